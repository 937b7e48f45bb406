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
	EventPasswordReset = "user.password_reset"
)

// record writes an activity-log event. The log is for operators, not
// for correctness: a failure to write it is logged and the flow goes on.
func (s *Service) record(ctx context.Context, envID, typ, actorType, actorID, target string, c Client, data map[string]string) {
	e := s.event(envID, typ, actorType, actorID, target, c, data)
	if err := s.Store.RecordEvent(ctx, e); err != nil && s.Logger != nil {
		s.Logger.WarnContext(ctx, "activity log write failed", "type", typ, "err", err)
	}
}

// event is a new activity-log event.
func (s *Service) event(envID, typ, actorType, actorID, target string, c Client, data map[string]string) *store.Event {
	if data == nil {
		data = map[string]string{}
	}
	return &store.Event{
		ID: ids.New("event"), EnvironmentID: envID, Type: typ, ActorType: actorType, ActorID: actorID,
		TargetID: target, IPAddress: truncate(c.IP, 64), Data: data, CreatedAt: s.now(),
	}
}

// signedUp gives the user.signed_up event of a user who signs up with
// method; users.Service.Create stores it with the user, so a sign-up is
// logged if and only if its account exists.
func (s *Service) signedUp(envID, method string, c Client) func(*store.User) *store.Event {
	return func(u *store.User) *store.Event {
		return s.event(envID, EventSignedUp, "user", u.ID, u.ID, c, map[string]string{"method": method})
	}
}

// signedIn is the user.signed_in event of a session started by signing
// in: StartSession records it in the session's own transaction, so a
// sign-in is logged when its session starts and only then (not when a
// password checks out but the address must still be verified). A session
// an app gets from a live browser session (Grant) is not a sign-in.
func (s *Service) signedIn(sess *store.Session, c Client) *store.Event {
	return s.event(sess.EnvironmentID, EventSignedIn, "user", sess.UserID, sess.UserID, c,
		map[string]string{"method": sess.AuthMethod, "session_id": sess.ID})
}
