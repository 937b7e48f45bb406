package authflow

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Event types the flow records in the activity log.
const (
	EventSignedUp      = "user.signed_up"
	EventSignedIn      = "user.signed_in"
	EventSignInFailed  = "user.sign_in_failed"
	EventSessionEnded  = "session.ended"
	EventSessionRevoke = "session.revoked"
)

// record writes an activity-log event. The log is for operators, not
// for correctness: a failure to write it is logged and the flow goes on.
func (s *Service) record(ctx context.Context, envID, typ, actorType, actorID, target string, c Client, data map[string]string) {
	if data == nil {
		data = map[string]string{}
	}
	e := &store.Event{
		ID: ids.New("event"), EnvironmentID: envID, Type: typ, ActorType: actorType, ActorID: actorID,
		TargetID: target, IPAddress: truncate(c.IP, 64), Data: data, CreatedAt: s.now(),
	}
	if err := s.Store.RecordEvent(ctx, e); err != nil && s.Logger != nil {
		s.Logger.WarnContext(ctx, "activity log write failed", "type", typ, "err", err)
	}
}
