package mail

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Sender delivers one email from the outbox. Implementations return an
// error wrapping ErrPermanent when retrying cannot help (the server rejected
// the recipient or the message); any other error is retried later.
type Sender interface {
	Send(ctx context.Context, e *store.Email) error
}

// ErrPermanent marks a delivery failure that retrying will not fix, such as
// an SMTP 5xx reply to RCPT TO. The worker marks such an email "failed" at
// once.
var ErrPermanent = errors.New("mail: permanent failure")

// Message is a rendered email ready to be queued.
type Message struct {
	To          string
	Subject     string
	Text        string
	HTML        string
	FromName    string
	FromAddress string
}

// EnqueueMessage writes m to the outbox as a new pending email of an
// environment (envID may be "" for server-wide mail), due now, and returns
// it. Call Worker.Notify afterwards so it is sent at once.
func EnqueueMessage(ctx context.Context, outbox store.Outbox, envID string, m Message) (*store.Email, error) {
	if _, err := mail.ParseAddress(m.To); err != nil || strings.ContainsAny(m.To, "\r\n") {
		return nil, fmt.Errorf("mail: invalid recipient address")
	}
	if _, err := mail.ParseAddress(m.FromAddress); err != nil || strings.ContainsAny(m.FromAddress, "\r\n") {
		return nil, fmt.Errorf("mail: invalid sender address %q", m.FromAddress)
	}
	now := store.Now()
	e := &store.Email{
		ID:            ids.New("email"),
		EnvironmentID: envID,
		FromName:      oneLine(m.FromName),
		FromAddress:   m.FromAddress,
		To:            m.To,
		Subject:       oneLine(m.Subject),
		Text:          m.Text,
		HTML:          m.HTML,
		Status:        StatusPending,
		NextAttemptAt: now,
		CreatedAt:     now,
	}
	if err := outbox.EnqueueEmail(ctx, e); err != nil {
		return nil, fmt.Errorf("mail: enqueue: %w", err)
	}
	return e, nil
}

// Enqueue renders a template of the given kind for env and queues it to
// the address to. The sender is the environment's own (env.Email) where set,
// else its branded app name or its name, at from, the server-wide default
// address. data's AppName, LogoURL and PrimaryColor default to the
// environment's branding, and Email to to. Call Worker.Notify afterwards.
func Enqueue(ctx context.Context, outbox store.Outbox, env *store.Environment, from, to, kind string, data TemplateData) (*store.Email, error) {
	data = data.withBranding(env)
	if data.Email == "" {
		data.Email = to
	}
	subject, text, html, err := Render(kind, data)
	if err != nil {
		return nil, err
	}
	m := Message{To: to, Subject: subject, Text: text, HTML: html, FromName: env.Email.SenderName, FromAddress: env.Email.SenderAddress}
	if m.FromName == "" {
		m.FromName = appName(env)
	}
	if m.FromAddress == "" {
		m.FromAddress = from
	}
	return EnqueueMessage(ctx, outbox, env.ID, m)
}

// The outbox statuses of an email.
const (
	StatusPending = "pending"
	StatusSending = "sending"
	StatusSent    = "sent"
	StatusFailed  = "failed"
)

// appName is the name an environment's mail is signed with.
func appName(env *store.Environment) string {
	if env.Branding.AppName != "" {
		return env.Branding.AppName
	}
	return env.Name
}

// oneLine makes s safe for a header: control characters become spaces.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return r < 0x20 || r == 0x7f
	}), " ")
}

// nowOr returns now() or, when it is nil, the store's clock.
func nowOr(now func() time.Time) time.Time {
	if now == nil {
		return store.Now()
	}
	return store.Truncate(now())
}
