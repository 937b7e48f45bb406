package gatehouse

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Reason says why a session is not authenticated. The values are the
// WorkOS Node SDK's.
type Reason string

// The reasons a session is not authenticated.
const (
	// ReasonNoSessionCookie: the request has no session cookie.
	ReasonNoSessionCookie Reason = "no_session_cookie_provided"
	// ReasonInvalidSessionCookie: the cookie is not a session sealed with
	// this password (tampered, malformed, or another password).
	ReasonInvalidSessionCookie Reason = "invalid_session_cookie"
	// ReasonInvalidJWT: the access token does not verify, or has expired
	// (then Session.Expired is set). Refresh the session.
	ReasonInvalidJWT Reason = "invalid_jwt"
	// ReasonInvalidGrant: the refresh token no longer works (the session
	// ended, or the token was reused). The user must sign in again.
	ReasonInvalidGrant Reason = "invalid_grant"
)

// Session is the result of authenticating or refreshing a session cookie,
// and what Middleware puts in the request context.
type Session struct {
	// Authenticated reports whether the access token verified. When it is
	// false, Reason says why; the other fields are filled in as far as the
	// cookie allows, but nothing in them is verified.
	Authenticated bool
	Reason        Reason
	// Expired reports that the token failed only because it expired (with
	// Reason ReasonInvalidJWT): refresh the session.
	Expired bool

	User User
	// SessionID is the token's sid claim, needed to log out.
	SessionID      string
	OrganizationID string
	Role           string
	Roles          []string
	Permissions    []string
	Entitlements   []string
	FeatureFlags   []string
	// Impersonator is set when an admin acts as the user.
	Impersonator         *Impersonator
	AuthenticationMethod string
	AccessToken          string
	// ExpiresAt is when the access token expires.
	ExpiresAt time.Time
	// Sealed is the session cookie's value; after a refresh, the new one
	// to set.
	Sealed string
}

// SecureMode says when session cookies get the Secure attribute.
type SecureMode int

// The Secure modes.
const (
	// SecureAuto marks cookies Secure when the request came over TLS or the
	// Gatehouse base URL is https.
	SecureAuto SecureMode = iota
	// SecureAlways always marks cookies Secure (use it behind a TLS proxy).
	SecureAlways
	// SecureNever never does (plain-http development only).
	SecureNever
)

// Defaults of the session options.
const (
	DefaultCookieName   = "wos-session"
	DefaultCookieMaxAge = 400 * 24 * time.Hour
	DefaultRefreshReuse = 5 * time.Second
	refreshTimeout      = time.Minute
)

// SessionOptions configure a SessionManager. The zero value works.
type SessionOptions struct {
	// CookieName is the session cookie's name (default "wos-session", as the
	// WorkOS SDKs use).
	CookieName string
	// CookieDomain, if set, shares the cookie with subdomains.
	CookieDomain string
	// CookieMaxAge is the cookie's lifetime (default 400 days; the session
	// itself ends when Gatehouse ends it).
	CookieMaxAge time.Duration
	// Secure says when cookies are Secure (default SecureAuto).
	Secure SecureMode
	// Issuer, if set, must equal the access token's iss claim. Gatehouse's
	// issuer is <public URL>/user_management/<client ID>.
	Issuer string
	// JWKSCacheTTL is how long the JWKS is used before it is fetched again
	// (default 10 minutes).
	JWKSCacheTTL time.Duration
	// JWKSCooldown is the least time between fetches of the JWKS caused by
	// tokens with an unknown kid (default 1 minute).
	JWKSCooldown time.Duration
	// RefreshReuse is how long the result of a refresh is handed to other
	// requests presenting the same refresh token (default 5 seconds), so
	// that concurrent requests from one browser share one refresh.
	RefreshReuse time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// SessionManager keeps signed-in users in sealed cookies: it seals
// sessions, authenticates them against the environment's JWKS, refreshes
// them, and protects handlers (Middleware). It is safe for concurrent use;
// make one per process and share it.
type SessionManager struct {
	client   *Client
	password string
	opts     SessionOptions
	jwks     *jwksCache

	mu        sync.Mutex
	refreshes map[[32]byte]*refreshCall
	lastSweep time.Time
}

// refreshCall is one refresh, in flight or remembered for RefreshReuse.
type refreshCall struct {
	done  chan struct{}
	res   *Session
	err   error
	until time.Time // zero while in flight
}

// NewSessionManager returns a manager for the client's environment. The
// cookie password seals the cookies: at least 32 characters, the same on
// every instance of the app (and in any Node app sharing the cookie).
func NewSessionManager(client *Client, cookiePassword string, opts SessionOptions) (*SessionManager, error) {
	if client == nil {
		return nil, errors.New("gatehouse: NewSessionManager needs a Client")
	}
	if client.clientID == "" {
		return nil, errors.New("gatehouse: NewSessionManager needs a Client with a client ID (for the JWKS)")
	}
	if err := checkPassword(cookiePassword); err != nil {
		return nil, err
	}
	if opts.CookieName == "" {
		opts.CookieName = DefaultCookieName
	}
	if opts.CookieMaxAge <= 0 {
		opts.CookieMaxAge = DefaultCookieMaxAge
	}
	if opts.JWKSCacheTTL <= 0 {
		opts.JWKSCacheTTL = DefaultJWKSCacheTTL
	}
	if opts.JWKSCooldown <= 0 {
		opts.JWKSCooldown = DefaultJWKSCooldown
	}
	if opts.RefreshReuse <= 0 {
		opts.RefreshReuse = DefaultRefreshReuse
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &SessionManager{client: client, password: cookiePassword, opts: opts, refreshes: map[[32]byte]*refreshCall{}}
	m.jwks = &jwksCache{url: client.JWKSURL(), client: client, ttl: opts.JWKSCacheTTL, cooldown: opts.JWKSCooldown, now: opts.Now}
	return m, nil
}

// Seal seals a successful authentication into a session cookie value, as
// the Node SDK does: the organization comes from the access token's
// org_id claim.
func (m *SessionManager) Seal(res *AuthResponse) (string, error) {
	return SealSession(sessionData(res), m.password)
}

// sessionData is what the cookie of an authentication holds.
func sessionData(res *AuthResponse) *SessionData {
	d := &SessionData{OrganizationID: res.OrganizationID, User: res.User, AccessToken: res.AccessToken,
		RefreshToken: res.RefreshToken, AuthenticationMethod: res.AuthenticationMethod, Impersonator: res.Impersonator}
	if t, err := parseJWT(res.AccessToken); err == nil {
		d.OrganizationID = t.claims.OrganizationID
	}
	return d
}

// Authenticate unseals a session cookie value and verifies its access
// token: the RS256 or ES256 signature against the environment's JWKS, exp
// and nbf, and iss when SessionOptions.Issuer is set. A cookie that is
// missing, invalid or holds a bad or expired token gives a Session with
// Authenticated false and a Reason, and a nil error; an error means the
// JWKS could not be fetched.
func (m *SessionManager) Authenticate(ctx context.Context, sealed string) (*Session, error) {
	if sealed == "" {
		return &Session{Reason: ReasonNoSessionCookie}, nil
	}
	d, err := unsealSession(sealed, m.password, m.opts.Now())
	if err != nil || d.AccessToken == "" {
		return &Session{Reason: ReasonInvalidSessionCookie}, nil
	}
	return m.verify(ctx, d, sealed)
}

// verify checks the access token of an unsealed session.
func (m *SessionManager) verify(ctx context.Context, d *SessionData, sealed string) (*Session, error) {
	s := &Session{User: d.User, Impersonator: d.Impersonator, AuthenticationMethod: d.AuthenticationMethod,
		AccessToken: d.AccessToken, Sealed: sealed, OrganizationID: d.OrganizationID, Reason: ReasonInvalidJWT}
	t, err := parseJWT(d.AccessToken)
	if err != nil {
		return s, nil
	}
	s.fill(t)
	if t.checkHeader() != nil {
		return s, nil
	}
	key, err := m.jwks.lookup(ctx, t.header.Kid)
	if errors.Is(err, errUnknownKey) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gatehouse: verify access token: %w", err)
	}
	switch err := verifyJWT(t, key, m.opts.Now(), m.opts.Issuer); {
	case errors.Is(err, errTokenExpired):
		s.Expired = true
	case err == nil:
		s.Authenticated, s.Reason = true, ""
	}
	return s, nil
}

// fill copies the token's claims into s.
func (s *Session) fill(t *jwt) {
	c := &t.claims
	s.SessionID, s.Role = c.SessionID, c.Role
	if c.OrganizationID != "" {
		s.OrganizationID = c.OrganizationID
	}
	s.Roles, s.Permissions, s.Entitlements, s.FeatureFlags = c.Roles, c.Permissions, c.Entitlements, c.FeatureFlags
	s.ExpiresAt = c.expiresAt()
}

// Refresh exchanges the cookie's refresh token for new tokens and seals
// them into a new cookie value (Session.Sealed). organizationID switches
// the session to that organization; "" keeps the current one.
//
// The new access token is verified like Authenticate's. A cookie that
// cannot be refreshed gives a Session with Authenticated false and Reason
// ReasonInvalidSessionCookie or ReasonInvalidGrant (or ReasonInvalidJWT if
// even the new token does not verify, such as with a wrong
// SessionOptions.Issuer), and a nil error: the user must sign in again. An
// error means the refresh failed for another reason, usually a transient
// one (see Retryable): keep the cookie.
//
// Concurrent refreshes of one refresh token in this process share one call
// to Gatehouse, and its result is remembered for SessionOptions.RefreshReuse,
// so parallel requests from one browser all get the new session. Across
// processes, Gatehouse returns the same successor for 10 seconds.
func (m *SessionManager) Refresh(ctx context.Context, sealed, organizationID string) (*Session, error) {
	d, err := unsealSession(sealed, m.password, m.opts.Now())
	if err != nil || d.RefreshToken == "" {
		return &Session{Reason: ReasonInvalidSessionCookie}, nil
	}
	if organizationID == "" {
		if t, err := parseJWT(d.AccessToken); err == nil {
			organizationID = t.claims.OrganizationID
		}
	}
	s, err := m.refreshShared(ctx, d.RefreshToken, organizationID)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// refreshShared runs one refresh per refresh token and organization at a
// time, and hands its result to every caller within RefreshReuse.
func (m *SessionManager) refreshShared(ctx context.Context, refreshToken, organizationID string) (*Session, error) {
	key := sha256.Sum256([]byte(refreshToken + "\x00" + organizationID))
	now := m.opts.Now()
	m.mu.Lock()
	c := m.refreshes[key]
	if c != nil && !c.until.IsZero() && !now.Before(c.until) {
		c = nil
	}
	if c == nil {
		m.sweepLocked(now)
		c = &refreshCall{done: make(chan struct{})}
		m.refreshes[key] = c
		m.mu.Unlock()
		// The refresh runs on its own: once Gatehouse has rotated the token,
		// its result must reach the other waiters even if this caller leaves.
		go m.runRefresh(context.WithoutCancel(ctx), key, c, refreshToken, organizationID)
	} else {
		m.mu.Unlock()
	}
	select {
	case <-c.done:
		if c.err != nil {
			return nil, c.err
		}
		s := *c.res
		return &s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (m *SessionManager) runRefresh(ctx context.Context, key [32]byte, c *refreshCall, refreshToken, organizationID string) {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	res, err := m.refreshOnce(ctx, refreshToken, organizationID)
	m.mu.Lock()
	c.res, c.err = res, err
	if err != nil {
		if m.refreshes[key] == c {
			delete(m.refreshes, key) // the next request tries again
		}
	} else {
		c.until = m.opts.Now().Add(m.opts.RefreshReuse)
	}
	m.mu.Unlock()
	close(c.done)
}

// refreshOnce calls the refresh grant and seals the result.
func (m *SessionManager) refreshOnce(ctx context.Context, refreshToken, organizationID string) (*Session, error) {
	res, err := m.client.AuthenticateWithRefreshToken(ctx, AuthenticateWithRefreshTokenParams{RefreshToken: refreshToken, OrganizationID: organizationID})
	if errors.Is(err, ErrInvalidGrant) {
		return &Session{Reason: ReasonInvalidGrant}, nil
	}
	if err != nil {
		return nil, err
	}
	d := sessionData(res)
	sealed, err := SealSession(d, m.password)
	if err != nil {
		return nil, err
	}
	// Verify the new token, so a refreshed session is held to the same
	// checks (signature, expiry, issuer) as any other.
	s, err := m.verify(ctx, d, sealed)
	if err != nil {
		// The JWKS is unreachable. The token came straight from Gatehouse,
		// and the refresh has already rotated the refresh token, so the new
		// cookie must reach the browser: trust the token as the Node SDK
		// does, reading its claims without verifying them.
		s = &Session{Authenticated: true, User: d.User, Impersonator: d.Impersonator, AuthenticationMethod: d.AuthenticationMethod,
			AccessToken: d.AccessToken, Sealed: sealed, OrganizationID: d.OrganizationID}
		if t, err := parseJWT(d.AccessToken); err == nil {
			s.fill(t)
		}
	}
	return s, nil
}

// sweepLocked drops remembered refreshes past their reuse window, at most
// once per window.
func (m *SessionManager) sweepLocked(now time.Time) {
	if now.Sub(m.lastSweep) < m.opts.RefreshReuse {
		return
	}
	m.lastSweep = now
	for k, c := range m.refreshes {
		if !c.until.IsZero() && !now.Before(c.until) {
			delete(m.refreshes, k)
		}
	}
}

// forget drops remembered refreshes of a session, so a logged-out session
// is not revived from memory.
func (m *SessionManager) forget(sessionID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, c := range m.refreshes {
		if !c.until.IsZero() && c.res != nil && c.res.SessionID == sessionID {
			delete(m.refreshes, k)
		}
	}
}

// LogoutURL returns the Gatehouse URL that ends the cookie's session and
// then redirects to returnTo (see Client.LogoutURL). Unlike the Node SDK's,
// it works with an expired access token: it reads the session ID from the
// cookie without verifying the token (the seal already authenticates it).
// Clear the cookie (ClearCookie) and redirect the browser to the URL.
func (m *SessionManager) LogoutURL(ctx context.Context, sealed, returnTo string) (string, error) {
	if sealed == "" {
		return "", fmt.Errorf("%w: no session cookie", ErrInvalidSession)
	}
	d, err := unsealSession(sealed, m.password, m.opts.Now())
	if err != nil {
		return "", err
	}
	t, err := parseJWT(d.AccessToken)
	if err != nil || t.claims.SessionID == "" {
		return "", fmt.Errorf("%w: the access token has no session ID", ErrInvalidSession)
	}
	m.forget(t.claims.SessionID)
	return m.client.LogoutURL(t.claims.SessionID, returnTo), nil
}

// SessionCookie returns the request's sealed session cookie, or "".
func (m *SessionManager) SessionCookie(r *http.Request) string {
	c, err := r.Cookie(m.opts.CookieName)
	if err != nil {
		return ""
	}
	return c.Value
}

// SetCookie sets the session cookie to a sealed value: HttpOnly,
// SameSite=Lax, Path=/, and Secure as SessionOptions.Secure says.
func (m *SessionManager) SetCookie(w http.ResponseWriter, r *http.Request, sealed string) {
	http.SetCookie(w, m.cookie(r, sealed, int(m.opts.CookieMaxAge/time.Second)))
}

// ClearCookie deletes the session cookie.
func (m *SessionManager) ClearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, m.cookie(r, "", -1))
}

func (m *SessionManager) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	secure := false
	switch m.opts.Secure {
	case SecureAlways:
		secure = true
	case SecureAuto:
		secure = (r != nil && r.TLS != nil) || strings.HasPrefix(m.client.baseURL, "https://")
	}
	return &http.Cookie{Name: m.opts.CookieName, Value: value, Path: "/", Domain: m.opts.CookieDomain, MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
}
