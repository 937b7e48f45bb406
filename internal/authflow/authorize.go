package authflow

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/redirecturi"
	"github.com/gatehouse/gatehouse/internal/store"
)

// MaxStateBytes bounds the state parameter echoed back to the app.
const MaxStateBytes = 8 << 10

// AuthorizeParams are the query parameters of /user_management/authorize.
type AuthorizeParams struct {
	ClientID            string
	RedirectURI         string
	ResponseType        string
	Provider            string
	State               string
	HasState            bool
	ScreenHint          string
	LoginHint           string
	CodeChallenge       string
	CodeChallengeMethod string
	ConnectionID        string
	OrganizationID      string
}

// AuthorizeError is a failed authorization request. When RedirectURI is
// set the error may go back to the app OAuth-style (RFC 6749 §4.1.2.1);
// otherwise it must be shown on an error page and never redirected.
type AuthorizeError struct {
	Code        string // OAuth error code, e.g. invalid_request
	Description string // safe to show and to send to the app
	RedirectURI string // the registered URI to send the error to, or ""
	State       string
	HasState    bool
}

func (e *AuthorizeError) Error() string { return e.Code + ": " + e.Description }

// RedirectURL returns where to send the browser for a redirectable error.
func (e *AuthorizeError) RedirectURL() string {
	q := url.Values{"error": {e.Code}, "error_description": {e.Description}}
	if e.HasState {
		q.Set("state", e.State)
	}
	return appendQuery(e.RedirectURI, q)
}

// appendQuery adds q to a URI that may already have a query.
func appendQuery(uri string, q url.Values) string {
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + q.Encode()
}

var challengeRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// CheckAuthorization checks an authorization request and returns it ready
// to store (SaveAuthorization) or to grant at once (Grant). The client ID
// and redirect URI are checked first: until both are known good, errors
// are never redirected.
func (s *Service) CheckAuthorization(ctx context.Context, p AuthorizeParams) (*store.Environment, *store.AuthRequest, error) {
	page := func(code, desc string) error { return &AuthorizeError{Code: code, Description: desc} }
	if p.ClientID == "" {
		return nil, nil, page("invalid_request", "The request has no client_id. The app that sent you here is misconfigured.")
	}
	env, err := s.Store.GetEnvironmentByClientID(ctx, p.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, page("invalid_client", "The client_id is not known to this Gatehouse server. The app that sent you here is misconfigured.")
	}
	if err != nil {
		return nil, nil, err
	}
	if p.RedirectURI == "" {
		return env, nil, page("invalid_request", "The request has no redirect_uri. The app that sent you here is misconfigured.")
	}
	ok, err := s.RedirectAllowed(ctx, env, store.RedirectURI, p.RedirectURI)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return env, nil, page("invalid_redirect_uri", "The redirect_uri is not registered for this app, so Gatehouse will not send you there. "+
			"If you develop this app, add the URI to the environment's redirect URIs.")
	}
	back := func(code, desc string) error {
		return &AuthorizeError{Code: code, Description: desc, RedirectURI: p.RedirectURI, State: p.State, HasState: p.HasState}
	}
	switch {
	case len(p.State) > MaxStateBytes:
		return env, nil, &AuthorizeError{Code: "invalid_request", Description: "state is longer than 8 KB.", RedirectURI: p.RedirectURI}
	case p.ResponseType != "code":
		return env, nil, back("unsupported_response_type", "response_type must be code.")
	case p.ConnectionID != "" || p.OrganizationID != "":
		return env, nil, back("invalid_request", "Enterprise SSO (connection_id, organization_id) is not enabled for this environment.")
	case p.Provider != "authkit":
		return env, nil, back("invalid_request", "provider must be authkit; other providers are not enabled for this environment.")
	case p.ScreenHint != "" && p.ScreenHint != "sign-in" && p.ScreenHint != "sign-up":
		return env, nil, back("invalid_request", "screen_hint must be sign-in or sign-up.")
	case p.CodeChallengeMethod != "" && p.CodeChallenge == "":
		return env, nil, back("invalid_request", "code_challenge_method was sent without code_challenge.")
	case p.CodeChallenge != "" && p.CodeChallengeMethod != "S256":
		return env, nil, back("invalid_request", "code_challenge_method must be S256.")
	case p.CodeChallenge != "" && !challengeRE.MatchString(p.CodeChallenge):
		return env, nil, back("invalid_request", "code_challenge must be the base64url SHA-256 of the code verifier (43 characters).")
	case len(p.LoginHint) > 320 || !utf8.ValidString(p.LoginHint):
		return env, nil, back("invalid_request", "login_hint is too long.")
	}
	hint := p.ScreenHint
	if hint == "" {
		hint = "sign-in"
	}
	now := s.now()
	req := &store.AuthRequest{
		ID: ids.New("authreq"), EnvironmentID: env.ID, ClientID: env.ClientID, RedirectURI: p.RedirectURI,
		State: p.State, CodeChallenge: p.CodeChallenge, ScreenHint: hint, LoginHint: p.LoginHint,
		CreatedAt: now, ExpiresAt: now.Add(AuthRequestTTL),
	}
	return env, req, nil
}

// SaveAuthorization stores a checked request while the browser signs in.
func (s *Service) SaveAuthorization(ctx context.Context, req *store.AuthRequest) error {
	return s.Store.CreateAuthRequest(ctx, req)
}

// RedirectAllowed reports whether uri matches one of the environment's
// registered targets of the given kind.
func (s *Service) RedirectAllowed(ctx context.Context, env *store.Environment, kind store.RedirectKind, uri string) (bool, error) {
	rs, err := s.Store.ListRedirects(ctx, env.ID, kind)
	if err != nil {
		return false, err
	}
	for _, r := range rs {
		if redirecturi.Match(r.URI, uri) {
			return true, nil
		}
	}
	return false, nil
}

// ErrRequestGone means a pending authorization request is unknown, expired
// or already completed; the browser must start again at the app.
var ErrRequestGone = errs.New(errs.NotFound, "authorization_request_expired", "This sign-in link has expired. Start again from the app.")

// PendingRequest returns a live pending request of env.
func (s *Service) PendingRequest(ctx context.Context, env *store.Environment, id string) (*store.AuthRequest, error) {
	if !ids.Valid(id, "authreq") {
		return nil, ErrRequestGone
	}
	req, err := s.Store.GetAuthRequest(ctx, env.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrRequestGone
	}
	if err != nil {
		return nil, err
	}
	if !s.now().Before(req.ExpiresAt) {
		return nil, ErrRequestGone
	}
	return req, nil
}

// Complete finishes a stored request for a user who has just signed in on
// the hosted pages. In one store transaction it consumes the request,
// starts Gatehouse's session with the browser and the user's session with
// the app, and stores the code. It returns the app's redirect URI with
// the code and the request's state, and the browser session's cookie
// token.
func (s *Service) Complete(ctx context.Context, env *store.Environment, req *store.AuthRequest, user *store.User, method string, c Client) (to, browserToken string, err error) {
	in, to, browserToken := s.completion(env, req, user.ID, method, c)
	if err := s.startSession(ctx, user, in); errors.Is(err, store.ErrAlreadyUsed) {
		return "", "", ErrRequestGone
	} else if err != nil {
		return "", "", err
	}
	return to, browserToken, nil
}

// CompleteVerified checks an email-verification code, as VerifyEmail does,
// and when it verifies the address completes req for the code's user
// (userID) in the same transaction, as Complete does: the last step of a
// verified sign-up is one commit. If req was completed already the address
// is verified all the same and the error is ErrRequestGone.
func (s *Service) CompleteVerified(ctx context.Context, env *store.Environment, req *store.AuthRequest, userID, challengeID, code string, c Client) (to, browserToken string, err error) {
	in, to, browserToken := s.completion(env, req, userID, "password", c)
	if _, err := s.verifyEmail(ctx, env, challengeID, code, &in); errors.Is(err, store.ErrAlreadyUsed) {
		return "", "", ErrRequestGone
	} else if err != nil {
		return "", "", err
	}
	return to, browserToken, nil
}

// completion builds what completing req stores for a sign-in on the
// hosted pages: a new browser session (its token for the cookie), the
// session with the app and its user.signed_in event, and the code the
// app's redirect carries (to).
func (s *Service) completion(env *store.Environment, req *store.AuthRequest, userID, method string, c Client) (in store.SignIn, to, browserToken string) {
	browserToken, hash := newSecret()
	now := s.now()
	b := &store.BrowserSession{
		ID: ids.New("bsession"), Hash: hash, EnvironmentID: env.ID, UserID: userID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(env.WithDefaults().SessionLifetime),
	}
	sess := s.newSession(env, userID, req.ClientID, b.ID, method, c)
	in = store.SignIn{Browser: b, Request: req.ID, Session: sess, Event: s.signedIn(sess, c)}
	return in, s.addCode(req, &in), browserToken
}

// Grant answers a checked request, never stored, for a user signed in
// through a live browser session: it starts a session with the app and
// returns the app's redirect URI with a fresh code and the request's
// state. A stored request goes through Complete, so that it is used once.
func (s *Service) Grant(ctx context.Context, env *store.Environment, req *store.AuthRequest, user *store.User, browserSessionID, method string, c Client) (string, error) {
	in := store.SignIn{Session: s.newSession(env, user.ID, req.ClientID, browserSessionID, method, c)}
	to := s.addCode(req, &in)
	if err := s.startSession(ctx, user, in); err != nil {
		return "", err
	}
	return to, nil
}

// addCode adds to in a code for req and returns the redirect to the app
// that carries it.
func (s *Service) addCode(req *store.AuthRequest, in *store.SignIn) string {
	code, hash := newSecret()
	now := s.now()
	in.Code = &store.AuthCode{
		Hash: hash, ClientID: req.ClientID, RedirectURI: req.RedirectURI, CodeChallenge: req.CodeChallenge,
		CreatedAt: now, ExpiresAt: now.Add(CodeTTL),
	}
	q := url.Values{"code": {code}}
	if req.State != "" {
		q.Set("state", req.State)
	}
	return appendQuery(req.RedirectURI, q)
}

// startSession records a user's sign-in to an app (in.Session) in one
// store transaction: the session, the user's last sign-in, and whatever
// else in carries: the code (Grant, Complete) or first refresh token (signIn) that
// hands the session over, and for a sign-in on the hosted pages the
// browser session and the request it completes. user then shows the
// sign-in.
func (s *Service) startSession(ctx context.Context, user *store.User, in store.SignIn) error {
	if err := s.Store.StartSession(ctx, in); err != nil {
		return err
	}
	at := in.Session.CreatedAt
	user.LastSignInAt = &at
	return nil
}

// newSession is a new session of userID with the app clientID.
func (s *Service) newSession(env *store.Environment, userID, clientID, browserSessionID, method string, c Client) *store.Session {
	now := s.now()
	return &store.Session{
		ID: ids.New("session"), EnvironmentID: env.ID, UserID: userID, BrowserSessionID: browserSessionID,
		ClientID: clientID, AuthMethod: method, IPAddress: truncate(c.IP, 64), UserAgent: truncate(c.UserAgent, 512),
		CreatedAt: now, UpdatedAt: now, LastActiveAt: now, ExpiresAt: now.Add(env.WithDefaults().SessionLifetime),
	}
}

// signIn starts a session for a user who signed in through the API, with
// its user.signed_in event, and issues its tokens.
func (s *Service) signIn(ctx context.Context, env *store.Environment, user *store.User, method string, c Client) (*TokenResponse, error) {
	in, rt := s.apiSignIn(env, user.ID, method, c)
	if err := s.startSession(ctx, user, in); err != nil {
		return nil, err
	}
	return s.issue(ctx, env, in.Session, user, rt)
}

// apiSignIn builds what a sign-in through the API stores: the session
// with its user.signed_in event and its first refresh token, whose secret
// is rt.
func (s *Service) apiSignIn(env *store.Environment, userID, method string, c Client) (in store.SignIn, rt string) {
	rt, hash := newSecret()
	sess := s.newSession(env, userID, env.ClientID, "", method, c)
	return store.SignIn{Session: sess, First: &store.RefreshToken{Hash: hash, CreatedAt: s.now()}, Event: s.signedIn(sess, c)}, rt
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
