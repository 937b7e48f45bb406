package authflow

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
)

// LogoutResult says where to send a browser after logout, and which
// environment's browser-session cookie to clear ("" if unknown).
type LogoutResult struct {
	RedirectURI  string
	Environment  *store.Environment
	BrowserEnded bool
}

// ErrNoSignOutTarget means logout has nowhere allowed to send the browser.
var ErrNoSignOutTarget = errs.New(errs.NotFound, "no_sign_out_redirect", "You have been signed out.")

// Logout ends a session and the browser session it came from, then picks
// the redirect: returnTo if it is an allowed sign-out redirect, else the
// default one. An unknown or already-ended session is not an error
// (workos-compat.md §3.1): logout is idempotent.
func (s *Service) Logout(ctx context.Context, sessionID, returnTo string) (*LogoutResult, error) {
	if sessionID == "" {
		return nil, errs.Validation(errs.FieldError{Field: "session_id", Code: "required", Message: "session_id is required."})
	}
	if !ids.Valid(sessionID, "session") {
		return nil, ErrNoSignOutTarget
	}
	sess, err := s.Store.GetSessionByID(ctx, sessionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSignOutTarget
	}
	if err != nil {
		return nil, err
	}
	env, err := s.Store.GetEnvironment(ctx, sess.EnvironmentID)
	if err != nil {
		return nil, err
	}
	ended := s.event(env.ID, EventSessionEnded, "user", sess.UserID, sess.ID, Client{}, map[string]string{"reason": "logout"})
	if _, err := s.Store.EndSessionAndBrowser(ctx, env.ID, sess.ID, sess.BrowserSessionID, s.now(), ended); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	res := &LogoutResult{Environment: env, BrowserEnded: sess.BrowserSessionID != ""}
	if returnTo != "" {
		ok, err := s.RedirectAllowed(ctx, env, store.SignOutRedirect, returnTo)
		if err != nil {
			return nil, err
		}
		if ok {
			res.RedirectURI = returnTo
			return res, nil
		}
	}
	rs, err := s.Store.ListRedirects(ctx, env.ID, store.SignOutRedirect)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.Default {
			res.RedirectURI = r.URI
		}
	}
	return res, nil
}

// EndBrowserSession ends Gatehouse's session with a browser (its cookie).
func (s *Service) EndBrowserSession(ctx context.Context, env *store.Environment, token string) error {
	if token == "" || len(token) > 100 {
		return nil
	}
	b, err := s.Store.GetBrowserSessionByHash(ctx, Hash(token))
	if errors.Is(err, store.ErrNotFound) || (err == nil && b.EnvironmentID != env.ID) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.Store.EndBrowserSession(ctx, env.ID, b.ID, s.now())
}

// RevokeSession ends a session of env by ID, and the Gatehouse browser
// session it came from, so the next authorization asks for credentials
// instead of signing the user straight back in.
func (s *Service) RevokeSession(ctx context.Context, env *store.Environment, id string) error {
	sess, err := s.Store.GetSession(ctx, env.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return &errs.Error{Kind: errs.NotFound, Code: "entity_not_found", Message: "Session not found: '" + truncate(id, 100) + "'.", Err: err}
	}
	if err != nil {
		return err
	}
	revoked := s.event(env.ID, EventSessionRevoke, "system", "", sess.ID, Client{}, map[string]string{"reason": "revoked"})
	_, err = s.Store.EndSessionAndBrowser(ctx, env.ID, id, sess.BrowserSessionID, s.now(), revoked)
	return err
}
