package adminauth

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Event types for admins' own sign-ins and account changes. They belong to
// no environment.
const (
	EventCreated        = "admin.created"
	EventLinkIssued     = "admin.link_issued"
	EventSignedIn       = "admin.signed_in"
	EventSignInFailed   = "admin.sign_in_failed"
	EventSignedOut      = "admin.signed_out"
	EventPasswordSet    = "admin.password_set"
	EventPasswordChange = "admin.password_changed"
	EventTOTPEnabled    = "admin.totp_enabled"
	EventTOTPDisabled   = "admin.totp_disabled"
)

// Audit is one activity-log entry about an admin or an admin's change.
// Data holds non-secret details only.
type Audit struct {
	EnvironmentID string // "" for server-wide changes
	Type          string // admin.*
	ActorType     string // "admin" or "system"; "" means "admin"
	ActorID       string
	TargetID      string
	IP            string
	Data          map[string]string
}

// Record writes an entry to the activity log. The log is for operators,
// not for correctness: a failed write is logged and the change stands.
func (s *Service) Record(ctx context.Context, a Audit) {
	if a.ActorType == "" {
		a.ActorType = "admin"
	}
	if a.Data == nil {
		a.Data = map[string]string{}
	}
	if len(a.IP) > 64 {
		a.IP = a.IP[:64]
	}
	e := &store.Event{
		ID: ids.New("event"), EnvironmentID: a.EnvironmentID, Type: a.Type, ActorType: a.ActorType,
		ActorID: a.ActorID, TargetID: a.TargetID, IPAddress: a.IP, Data: a.Data, CreatedAt: s.now(),
	}
	if err := s.Store.RecordEvent(ctx, e); err != nil && s.Logger != nil {
		s.Logger.WarnContext(ctx, "activity log write failed", "type", a.Type, "err", err)
	}
}
