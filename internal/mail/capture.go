package mail

import (
	"context"
	"log/slog"
	"regexp"

	"github.com/gatehouse/gatehouse/internal/store"
)

// CaptureSender is the development sender: it delivers nothing, so the
// worker marks each email sent and the dev inbox shows it from the outbox.
// It logs the recipient, subject and the code or link the email carries, so
// a developer can sign in from the log alone. Never use it in production:
// the log then holds live codes.
type CaptureSender struct {
	Logger *slog.Logger
}

var _ Sender = CaptureSender{}

var (
	// The text templates put a code alone on an indented line.
	codeRE = regexp.MustCompile(`(?m)^[ \t]+([0-9A-Za-z-]{4,16})[ \t]*$`)
	linkRE = regexp.MustCompile(`https?://[^\s<>"]+`)
)

// Send logs e and reports success.
func (c CaptureSender) Send(ctx context.Context, e *store.Email) error {
	attrs := []any{"email_id", e.ID, "environment_id", e.EnvironmentID, "to", e.To, "subject", e.Subject}
	if m := codeRE.FindStringSubmatch(e.Text); m != nil {
		attrs = append(attrs, "code", m[1])
	}
	if l := linkRE.FindString(e.Text); l != "" {
		attrs = append(attrs, "link", l)
	}
	c.Logger.InfoContext(ctx, "email captured (dev mode: not sent)", attrs...)
	return nil
}
