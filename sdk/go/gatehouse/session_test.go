package gatehouse

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type sessionFixture struct {
	srv *jwksServer
	clk *clock
	m   *SessionManager
	rs  *testKey
	ec  *testKey
}

func newSessionFixture(t *testing.T, opts SessionOptions) *sessionFixture {
	t.Helper()
	f := &sessionFixture{rs: newRSAKey(t, "rs1"), ec: newECKey(t, "ec1"), clk: newClock()}
	f.srv = newJWKSServer(t, f.rs, f.ec)
	c, err := NewClient(f.srv.URL, "sk_test", "client_123")
	if err != nil {
		t.Fatal(err)
	}
	opts.Now = f.clk.Now
	if f.m, err = NewSessionManager(c, vectorPassword, opts); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *sessionFixture) claims(ttl time.Duration) map[string]any {
	now := f.clk.Now()
	return map[string]any{"iss": "iss1", "sub": "user_1", "sid": "session_1", "org_id": "org_1", "role": "member",
		"roles": []string{"member"}, "permissions": []string{"read"}, "entitlements": []string{"e"}, "feature_flags": []string{"f"},
		"iat": now.Unix(), "exp": now.Add(ttl).Unix()}
}

func (f *sessionFixture) cookie(t *testing.T, token string) string {
	t.Helper()
	s, err := f.m.Seal(&AuthResponse{User: User{ID: "user_1", Email: "a@b.c"}, AccessToken: token, RefreshToken: "rt_1",
		AuthenticationMethod: "Password", OrganizationID: "org_from_response"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAuthenticateReasons(t *testing.T) {
	f := newSessionFixture(t, SessionOptions{Issuer: "iss1"})
	ctx := t.Context()
	for _, k := range []*testKey{f.rs, f.ec} {
		sealed := f.cookie(t, k.sign(t, f.claims(time.Minute)))
		s, err := f.m.Authenticate(ctx, sealed)
		if err != nil || !s.Authenticated || s.Reason != "" || s.Expired {
			t.Fatalf("%s: %+v, %v", k.alg, s, err)
		}
		if s.User.ID != "user_1" || s.SessionID != "session_1" || s.OrganizationID != "org_1" || s.Role != "member" ||
			s.Roles[0] != "member" || s.Permissions[0] != "read" || s.Entitlements[0] != "e" || s.FeatureFlags[0] != "f" ||
			s.AuthenticationMethod != "Password" || s.Sealed != sealed || s.ExpiresAt.Unix() != f.clk.Now().Add(time.Minute).Unix() {
			t.Fatalf("%s: session = %+v", k.alg, s)
		}
	}
	// The cookie's organization is the token's org_id, not the response's.
	d, _ := UnsealSession(f.cookie(t, f.rs.sign(t, f.claims(time.Minute))), vectorPassword)
	if d.OrganizationID != "org_1" {
		t.Fatalf("sealed organization = %q", d.OrganizationID)
	}

	expired := f.cookie(t, f.rs.sign(t, f.claims(time.Minute)))
	f.clk.Advance(time.Minute)
	otherPassword, _ := SealSession(&SessionData{AccessToken: "a.b.c", RefreshToken: "r"}, strings.Repeat("p", 32))
	noToken, _ := SealSession(&SessionData{RefreshToken: "r"}, vectorPassword)
	wrongIssuer := f.claims(time.Minute)
	wrongIssuer["iss"] = "someone-else"
	unknownKid := newECKey(t, "ec-unknown")
	cases := []struct {
		name    string
		sealed  string
		reason  Reason
		expired bool
	}{
		{"no cookie", "", ReasonNoSessionCookie, false},
		{"garbage", "garbage", ReasonInvalidSessionCookie, false},
		{"other password", otherPassword, ReasonInvalidSessionCookie, false},
		{"no access token", noToken, ReasonInvalidSessionCookie, false},
		{"expired", expired, ReasonInvalidJWT, true},
		{"wrong issuer", f.cookie(t, f.rs.sign(t, wrongIssuer)), ReasonInvalidJWT, false},
		{"unknown kid", f.cookie(t, unknownKid.sign(t, f.claims(time.Minute))), ReasonInvalidJWT, false},
		{"malformed token", f.cookie(t, "a.b.c"), ReasonInvalidJWT, false},
		{"alg none", f.cookie(t, f.rs.signHeader(t, map[string]any{"alg": "none", "kid": "rs1"}, f.claims(time.Minute))), ReasonInvalidJWT, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := f.m.Authenticate(ctx, tc.sealed)
			if err != nil || s.Authenticated || s.Reason != tc.reason || s.Expired != tc.expired {
				t.Fatalf("got %+v, %v; want %s (expired %v)", s, err, tc.reason, tc.expired)
			}
		})
	}
	// An expired session still names its session and user (unverified).
	s, _ := f.m.Authenticate(ctx, expired)
	if s.SessionID != "session_1" || s.User.ID != "user_1" {
		t.Fatalf("expired session = %+v", s)
	}
	// Unknown kids do not refetch the JWKS per request.
	if n := f.srv.fetches.Load(); n > 2 {
		t.Fatalf("%d JWKS fetches", n)
	}

	// With the JWKS unreachable and nothing cached: an error, not a reason.
	g := newSessionFixture(t, SessionOptions{})
	g.srv.setKeys(502)
	if s, err := g.m.Authenticate(ctx, g.cookie(t, g.rs.sign(t, g.claims(time.Minute)))); err == nil || !Retryable(err) {
		t.Fatalf("JWKS down: %+v, %v", s, err)
	}
}

func TestLogoutURLWithExpiredToken(t *testing.T) {
	f := newSessionFixture(t, SessionOptions{})
	sealed := f.cookie(t, f.rs.sign(t, f.claims(time.Second)))
	f.clk.Advance(time.Hour)
	u, err := f.m.LogoutURL(t.Context(), sealed, "http://localhost:3000/bye")
	if err != nil {
		t.Fatal(err)
	}
	if want := f.srv.URL + "/user_management/sessions/logout?return_to=http%3A%2F%2Flocalhost%3A3000%2Fbye&session_id=session_1"; u != want {
		t.Fatalf("URL = %s, want %s", u, want)
	}
	for _, bad := range []string{"", "garbage", f.cookie(t, "not.a-token.x")} {
		if _, err := f.m.LogoutURL(t.Context(), bad, ""); !errors.Is(err, ErrInvalidSession) {
			t.Errorf("LogoutURL(%.10q) = %v", bad, err)
		}
	}
}

func TestNewSessionManagerChecks(t *testing.T) {
	c, _ := NewClient("http://x", "sk", "client_1")
	if _, err := NewSessionManager(c, "short", SessionOptions{}); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("short password: %v", err)
	}
	noID, _ := NewClient("http://x", "sk", "")
	if _, err := NewSessionManager(noID, vectorPassword, SessionOptions{}); err == nil {
		t.Fatal("client without client ID accepted")
	}
	if _, err := NewSessionManager(nil, vectorPassword, SessionOptions{}); err == nil {
		t.Fatal("nil client accepted")
	}
}

func TestCookies(t *testing.T) {
	for _, tc := range []struct {
		base   string
		mode   SecureMode
		tls    bool
		secure bool
	}{
		{"http://gh", SecureAuto, false, false},
		{"http://gh", SecureAuto, true, true},
		{"https://gh", SecureAuto, false, true},
		{"http://gh", SecureAlways, false, true},
		{"https://gh", SecureNever, true, false},
	} {
		c, _ := NewClient(tc.base, "sk", "client_1")
		m, _ := NewSessionManager(c, vectorPassword, SessionOptions{Secure: tc.mode, CookieDomain: "example.com"})
		r := httptest.NewRequest("GET", "/", nil)
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		m.SetCookie(w, r, "v1")
		m.ClearCookie(w, r)
		got := w.Header().Values("Set-Cookie")
		set := "wos-session=v1; Path=/; Domain=example.com; Max-Age=34560000; HttpOnly; SameSite=Lax"
		clear := "wos-session=; Path=/; Domain=example.com; Max-Age=0; HttpOnly; SameSite=Lax"
		if tc.secure {
			set = strings.Replace(set, "HttpOnly", "HttpOnly; Secure", 1)
			clear = strings.Replace(clear, "HttpOnly", "HttpOnly; Secure", 1)
		}
		if len(got) != 2 || got[0] != set || got[1] != clear {
			t.Errorf("%+v: Set-Cookie = %q", tc, got)
		}
		r.AddCookie(&http.Cookie{Name: "wos-session", Value: "sealed"})
		if m.SessionCookie(r) != "sealed" {
			t.Errorf("SessionCookie = %q", m.SessionCookie(r))
		}
	}
}

func TestMiddlewareWithoutRefresh(t *testing.T) {
	f := newSessionFixture(t, SessionOptions{})
	var seen *Session
	app := f.m.Middleware(MiddlewareOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = SessionFromContext(r.Context())
		w.Write([]byte("ok"))
	}))
	do := func(cookie, accept string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/app", nil)
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: "wos-session", Value: cookie})
		}
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		return w
	}
	valid := f.cookie(t, f.ec.sign(t, f.claims(time.Minute)))
	if w := do(valid, ""); w.Code != 200 || w.Body.String() != "ok" || seen == nil || seen.User.ID != "user_1" || w.Header().Get("Set-Cookie") != "" {
		t.Fatalf("valid: %d %q %+v", w.Code, w.Body, seen)
	}
	seen = nil
	if w := do("", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"); w.Code != 302 || w.Header().Get("Location") != "/login" || seen != nil {
		t.Fatalf("no cookie: %d %v", w.Code, w.Header())
	}
	w := do("garbage", "application/json")
	if w.Code != 401 || w.Body.String() != `{"error":"unauthorized"}`+"\n" || w.Header().Get("Content-Type") != "application/json" ||
		!strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("bad cookie, JSON: %d %q %v", w.Code, w.Body, w.Header())
	}
	custom := f.m.Middleware(MiddlewareOptions{SignInPath: "/sign-in?next=1"})(http.NotFoundHandler())
	r := httptest.NewRequest("GET", "/", nil)
	w = httptest.NewRecorder()
	custom.ServeHTTP(w, r)
	if w.Code != 302 || w.Header().Get("Location") != "/sign-in?next=1" {
		t.Fatalf("custom sign-in path: %d %v", w.Code, w.Header())
	}

	// The JWKS is down: 503 and the cookie is kept.
	g := newSessionFixture(t, SessionOptions{})
	g.srv.setKeys(503)
	app = g.m.Middleware(MiddlewareOptions{})(http.NotFoundHandler())
	r = httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "wos-session", Value: g.cookie(t, g.rs.sign(t, g.claims(time.Minute)))})
	r.Header.Set("Accept", "application/json")
	w = httptest.NewRecorder()
	app.ServeHTTP(w, r)
	var body map[string]string
	json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != 503 || body["error"] != "unavailable" || w.Header().Get("Retry-After") == "" || w.Header().Get("Set-Cookie") != "" {
		t.Fatalf("JWKS down: %d %q %v", w.Code, w.Body, w.Header())
	}
}

func TestPrefersJSON(t *testing.T) {
	for accept, want := range map[string]bool{
		"":                                  false,
		"*/*":                               false,
		"application/json":                  true,
		"application/json, text/plain, */*": true,
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": false,
		"text/html;q=0.5, application/json":                               true,
		"application/json;q=0.4, text/html;q=0.5":                         false,
		"application/*":              true,
		"application/json;q=0":       false,
		"text/*, application/json":   true,
		"bogus;;;, application/json": true,
	} {
		if got := prefersJSON(accept); got != want {
			t.Errorf("prefersJSON(%q) = %v, want %v", accept, got, want)
		}
	}
}

func TestSessionContext(t *testing.T) {
	if _, ok := SessionFromContext(t.Context()); ok {
		t.Fatal("empty context has a session")
	}
	s := &Session{Authenticated: true, SessionID: "session_1"}
	if got, ok := SessionFromContext(ContextWithSession(t.Context(), s)); !ok || got != s {
		t.Fatal("session lost")
	}
}
