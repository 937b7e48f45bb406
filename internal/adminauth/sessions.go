package adminauth

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
)

// touchEvery bounds how often a session's last activity is written.
const touchEvery = 30 * time.Second

// StartSession starts a dashboard session for an admin who has just signed
// in and returns the cookie token. Only its hash is stored.
func (s *Service) StartSession(ctx context.Context, adminID string) (string, *store.AdminSession, error) {
	tok, h := newToken()
	now := s.now()
	sess := &store.AdminSession{
		ID: ids.New("adminsession"), Hash: h, AdminID: adminID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(SessionLifetime),
	}
	if err := s.Store.CreateAdminSession(ctx, sess); err != nil {
		return "", nil, err
	}
	return tok, sess, nil
}

// Session returns the live session a cookie token names and its admin, or
// nils if there is none: unknown, ended, past its 12 hours, idle for 30
// minutes, or its admin is gone. It records the activity.
func (s *Service) Session(ctx context.Context, tok string) (*store.AdminSession, *store.Admin, error) {
	if tok == "" || len(tok) > 100 {
		return nil, nil, nil
	}
	sess, err := s.Store.GetAdminSessionByHash(ctx, hash(tok))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	if sess.EndedAt != nil || !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= SessionIdleTimeout {
		return nil, nil, nil
	}
	a, err := s.Store.GetAdmin(ctx, sess.AdminID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		if err := s.Store.TouchAdminSession(ctx, sess.ID, now); err != nil {
			return nil, nil, err
		}
		sess.LastSeenAt = now
	}
	return sess, a, nil
}

// EndSession signs an admin out.
func (s *Service) EndSession(ctx context.Context, sess *store.AdminSession, c Client) error {
	if err := s.Store.EndAdminSession(ctx, sess.ID, s.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.Record(ctx, Audit{Type: EventSignedOut, ActorID: sess.AdminID, TargetID: sess.AdminID, IP: c.IP})
	return nil
}
