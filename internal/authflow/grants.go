package authflow

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tokens"
)

// TokenRequest is a POST /user_management/authenticate body.
type TokenRequest struct {
	GrantType      string
	ClientID       string
	ClientSecret   string
	Code           string
	CodeVerifier   string
	RefreshToken   string
	OrganizationID string
	Email          string
	Password       string
	PendingToken   string
	Client         Client
}

// TokenResponse is a successful authentication.
type TokenResponse struct {
	User                 *store.User
	OrganizationID       string
	AccessToken          string
	RefreshToken         string
	AuthenticationMethod string
	Session              *store.Session
}

// OAuthError is an error in the OAuth shape ({"error","error_description"})
// that /user_management/authenticate returns (workos-compat.md §5.2).
type OAuthError struct {
	Status      int
	Code        string
	Description string
}

func (e *OAuthError) Error() string { return e.Code + ": " + e.Description }

func invalidGrant(desc string) error {
	return &OAuthError{Status: 400, Code: "invalid_grant", Description: desc}
}

func invalidRequest(desc string) error {
	return &OAuthError{Status: 400, Code: "invalid_request", Description: desc}
}

// activityDue reports whether a session last seen at last should record
// activity at now. Activity is written at most every tenth of the idle
// timeout, and at most once a minute: a session then ends at most that
// much before its idle timeout, and one in steady use costs no write per
// request.
func activityDue(last, now time.Time, idle time.Duration) bool {
	return now.Sub(last) >= min(time.Minute, idle/10)
}

var verifierRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// Token runs one grant of /user_management/authenticate: CheckClient,
// then the checked request.
func (s *Service) Token(ctx context.Context, r TokenRequest, checkKey func(ctx context.Context, env *store.Environment, secret string) error) (*TokenResponse, error) {
	checked, err := s.CheckClient(ctx, r, checkKey)
	if err != nil {
		return nil, err
	}
	return checked.Run(ctx)
}

// CheckedRequest is a token request whose client CheckClient has checked,
// ready to run its grant.
type CheckedRequest struct {
	run func(ctx context.Context) (*TokenResponse, error)
}

// Run runs the request's grant.
func (c CheckedRequest) Run(ctx context.Context) (*TokenResponse, error) { return c.run(ctx) }

// CheckClient checks who sends the token request r, before anything is
// written for it: its client_id must be known, a client_secret it sends
// must be an API key of that environment (checkKey), and its grant must be
// one this kind of client may use (the password and magic-auth grants
// need the secret; a code exchange needs the secret or a PKCE verifier).
// The errors are OAuthErrors, but for the database's (ErrUnavailable and
// the context's, which are not the client's fault).
func (s *Service) CheckClient(ctx context.Context, r TokenRequest, checkKey func(ctx context.Context, env *store.Environment, secret string) error) (CheckedRequest, error) {
	if r.ClientID == "" {
		return CheckedRequest{}, invalidRequest("client_id is required.")
	}
	env, err := s.Store.GetEnvironmentByClientID(ctx, r.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return CheckedRequest{}, &OAuthError{Status: 400, Code: "invalid_client", Description: "The client_id is not known."}
	}
	if err != nil {
		return CheckedRequest{}, err
	}
	authed := false
	if r.ClientSecret != "" {
		if err := checkKey(ctx, env, r.ClientSecret); err != nil {
			if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return CheckedRequest{}, err // the database, not the secret: 503, and the SDK retries
			}
			return CheckedRequest{}, &OAuthError{Status: 401, Code: "invalid_client", Description: "The client_secret is not a valid API key of this environment."}
		}
		authed = true
	}
	needsSecret := func(grant string) (CheckedRequest, error) {
		return CheckedRequest{}, &OAuthError{Status: 401, Code: "invalid_client", Description: "The " + grant + " grant needs client_secret (an API key); call it from your server."}
	}
	var run func(ctx context.Context) (*TokenResponse, error)
	switch r.GrantType {
	case "authorization_code":
		if !authed && r.CodeVerifier == "" {
			return CheckedRequest{}, &OAuthError{Status: 401, Code: "invalid_client", Description: "Send client_secret (an API key) or, for public clients, code_verifier."}
		}
		run = func(ctx context.Context) (*TokenResponse, error) { return s.exchangeCode(ctx, env, r, authed) }
	case "refresh_token":
		run = func(ctx context.Context) (*TokenResponse, error) { return s.refresh(ctx, env, r) }
	case "password":
		if !authed {
			return needsSecret("password")
		}
		run = func(ctx context.Context) (*TokenResponse, error) { return s.passwordGrant(ctx, env, r) }
	case "urn:workos:oauth:grant-type:email-verification:code", "urn:workos:oauth:grant-type:email-verification":
		run = func(ctx context.Context) (*TokenResponse, error) {
			return s.completePendingVerification(ctx, env, r.PendingToken, r.Code, r.Client)
		}
	case "urn:workos:oauth:grant-type:magic-auth:code", "urn:workos:oauth:grant-type:magic-auth":
		if !authed {
			return needsSecret("magic-auth")
		}
		run = func(ctx context.Context) (*TokenResponse, error) {
			user, err := s.CompleteMagicAuth(ctx, env, r.Email, r.Code, r.Client)
			if err != nil {
				return nil, err
			}
			return s.signIn(ctx, env, user, "magic_code", r.Client)
		}
	case "":
		return CheckedRequest{}, invalidRequest("grant_type is required.")
	default:
		return CheckedRequest{}, &OAuthError{Status: 400, Code: "unsupported_grant_type", Description: fmt.Sprintf("grant_type %q is not supported.", truncate(r.GrantType, 100))}
	}
	return CheckedRequest{run: run}, nil
}

func (s *Service) exchangeCode(ctx context.Context, env *store.Environment, r TokenRequest, authed bool) (*TokenResponse, error) {
	if r.Code == "" {
		return nil, invalidRequest("code is required.")
	}
	if r.CodeVerifier != "" && !verifierRE.MatchString(r.CodeVerifier) {
		return nil, invalidRequest("code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' or '~'.")
	}
	if len(r.Code) > 100 {
		return nil, invalidGrant("The code is invalid.")
	}
	now := s.now()
	// The session's first refresh token is stored with the consumption
	// (one trip to the database) and deleted if the exchange is refused.
	rt, rtHash := newSecret()
	red, err := s.Store.ConsumeAuthCode(ctx, Hash(r.Code), now, &store.RefreshToken{Hash: rtHash, CreatedAt: now})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, invalidGrant("The code is invalid.")
	case errors.Is(err, store.ErrAlreadyUsed):
		// A replayed code may be stolen: end the session it started.
		if code := red.Code; code.EnvironmentID == env.ID {
			if err := s.Store.EndSession(ctx, env.ID, code.SessionID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			s.Logger.WarnContext(ctx, "authorization code reused; session revoked", "session_id", code.SessionID)
			s.record(ctx, env.ID, EventSessionRevoke, "system", "", code.SessionID, r.Client, map[string]string{"reason": "authorization code reused"})
		}
		return nil, invalidGrant("The code has already been used.")
	case err != nil:
		return nil, err
	}
	if err := s.checkRedemption(env, red, r, authed, now); err != nil {
		if derr := s.Store.DeleteRefreshToken(ctx, rtHash); derr != nil {
			// Harmless if it stays: the token was never given out.
			s.Logger.WarnContext(ctx, "delete the refresh token of a refused exchange", "err", derr)
		}
		return nil, err
	}
	return s.issue(ctx, env, red.Session, red.User, rt)
}

// checkRedemption checks a consumed code against the exchange request.
func (s *Service) checkRedemption(env *store.Environment, red *store.Redemption, r TokenRequest, authed bool, now time.Time) error {
	code := red.Code
	if code.EnvironmentID != env.ID || code.ClientID != env.ClientID {
		return invalidGrant("The code was not issued to this client.")
	}
	if !now.Before(code.ExpiresAt) {
		return invalidGrant("The code has expired.")
	}
	if code.CodeChallenge != "" {
		if r.CodeVerifier == "" {
			return invalidGrant("The code was issued with a PKCE challenge; send code_verifier.")
		}
		sum := sha256.Sum256([]byte(r.CodeVerifier))
		if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(code.CodeChallenge)) != 1 {
			return invalidGrant("The code_verifier does not match the code_challenge.")
		}
	} else if !authed {
		return invalidGrant("The code was issued without PKCE; exchange it with client_secret.")
	}
	if err := s.checkLive(env, red.Session); err != nil {
		return err
	}
	if red.User == nil {
		return invalidGrant("The user no longer exists.")
	}
	return nil
}

// checkLive returns invalid_grant unless sess (read with the code or
// refresh token) is a live session of env.
func (s *Service) checkLive(env *store.Environment, sess *store.Session) error {
	if sess == nil || sess.EnvironmentID != env.ID || SessionStatus(env, sess, s.now()) != "active" {
		return invalidGrant("The session has ended.")
	}
	return nil
}

// SessionStatus is "active", "expired" or "revoked" (ended early).
func SessionStatus(env *store.Environment, sess *store.Session, now time.Time) string {
	if sess.EndedAt != nil {
		return "revoked"
	}
	e := env.WithDefaults()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastActiveAt) >= e.SessionIdleTimeout {
		return "expired"
	}
	return "active"
}

func (s *Service) refresh(ctx context.Context, env *store.Environment, r TokenRequest) (*TokenResponse, error) {
	if r.RefreshToken == "" {
		return nil, invalidRequest("refresh_token is required.")
	}
	if len(r.RefreshToken) > 100 {
		return nil, invalidGrant("The refresh token is invalid.")
	}
	if r.OrganizationID != "" {
		return nil, invalidGrant("The user is not a member of that organization.")
	}
	now := s.now()
	nextTok, nextHash := newSecret()
	sealed := s.Box.Seal([]byte(nextTok), nextHash)
	rot, err := s.Store.RotateRefreshToken(ctx, Hash(r.RefreshToken), now,
		&store.RefreshToken{Hash: nextHash, EnvironmentID: env.ID, CreatedAt: now}, sealed)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, invalidGrant("The refresh token is invalid.")
	case errors.Is(err, store.ErrAlreadyUsed):
		prev := rot.Token
		if prev.EnvironmentID != env.ID {
			return nil, invalidGrant("The refresh token is invalid.")
		}
		if prev.UsedAt != nil && now.Sub(*prev.UsedAt) <= RefreshGrace && prev.SuccessorSealed != "" {
			succ, err := s.Box.Open(prev.SuccessorSealed, prev.SuccessorHash)
			if err != nil {
				return nil, fmt.Errorf("open successor refresh token: %w", err)
			}
			tok := string(succ)
			return s.continueSession(ctx, env, rot, tok)
		}
		if err := s.Store.EndSession(ctx, env.ID, prev.SessionID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		s.Logger.WarnContext(ctx, "refresh token reused after its grace window; session revoked", "session_id", prev.SessionID)
		s.record(ctx, env.ID, EventSessionRevoke, "system", "", prev.SessionID, r.Client, map[string]string{"reason": "refresh token reused"})
		return nil, invalidGrant("The refresh token has already been used; the session has been ended.")
	case err != nil:
		return nil, err
	}
	if rot.Token.EnvironmentID != env.ID {
		return nil, invalidGrant("The refresh token is invalid.")
	}
	return s.continueSession(ctx, env, rot, nextTok)
}

// continueSession issues tokens for a live session after a refresh, from
// the session and user the rotation read.
func (s *Service) continueSession(ctx context.Context, env *store.Environment, rot *store.Rotation, refresh string) (*TokenResponse, error) {
	sess := rot.Session
	if err := s.checkLive(env, sess); err != nil {
		return nil, err
	}
	if sess.ClientID != env.ClientID {
		return nil, invalidGrant("The refresh token was not issued to this client.")
	}
	if now := s.now(); activityDue(sess.LastActiveAt, now, env.WithDefaults().SessionIdleTimeout) {
		if err := s.Store.TouchSession(ctx, env.ID, sess.ID, now); err != nil {
			return nil, err
		}
	}
	if rot.User == nil {
		return nil, invalidGrant("The user no longer exists.")
	}
	return s.issue(ctx, env, sess, rot.User, refresh)
}

func (s *Service) passwordGrant(ctx context.Context, env *store.Environment, r TokenRequest) (*TokenResponse, error) {
	user, err := s.Authenticate(ctx, env, r.Email, r.Password, r.Client)
	if err != nil {
		return nil, err
	}
	if NeedsVerification(env, user) {
		return nil, s.stepUpVerification(ctx, env, user, r.Client)
	}
	return s.signIn(ctx, env, user, "password", r.Client)
}

// issue mints an access token and answers with it and refresh, the
// refresh token the caller stored (with the session, the code exchange or
// the rotation).
func (s *Service) issue(ctx context.Context, env *store.Environment, sess *store.Session, user *store.User, refresh string) (*TokenResponse, error) {
	key, err := s.Keys.Signer(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	now := s.now()
	e := env.WithDefaults()
	access, err := tokens.Sign(key, tokens.Claims{
		Issuer: s.Issuer(env), Subject: user.ID, SessionID: sess.ID, ID: ids.New("jti"),
		IssuedAt: now.Unix(), ExpiresAt: now.Add(e.AccessTokenTTL).Unix(), OrganizationID: sess.OrganizationID,
	})
	if err != nil {
		return nil, err
	}
	return &TokenResponse{User: user, AccessToken: access, RefreshToken: refresh, OrganizationID: sess.OrganizationID,
		AuthenticationMethod: methodName(sess.AuthMethod), Session: sess}, nil
}

// methodName maps a session's auth_method to the authentication response's
// authentication_method.
func methodName(m string) string {
	switch m {
	case "password":
		return "Password"
	case "magic_code":
		return "MagicAuth"
	}
	return ""
}
