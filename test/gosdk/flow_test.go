package gosdk

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/environments"
	"github.com/gatehouse/gatehouse/sdk/go/gatehouse"
)

// app is a protected app: its handler reports the session the middleware
// put in the request context.
type app struct {
	*httptest.Server
	t *testing.T
}

func newApp(t *testing.T, m *gatehouse.SessionManager) *app {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		s, ok := gatehouse.SessionFromContext(r.Context())
		if !ok || !s.Authenticated {
			t.Errorf("handler reached without a session: %+v", s)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"user_id": s.User.ID, "session_id": s.SessionID, "email": s.User.Email})
	})
	a := &app{Server: httptest.NewServer(m.Middleware(gatehouse.MiddlewareOptions{})(mux)), t: t}
	t.Cleanup(a.Close)
	return a
}

type appResponse struct {
	Status    int
	Location  string
	SetCookie []*http.Cookie
	Body      map[string]string
}

// get requests the app with a session cookie, not following redirects.
func (a *app) get(sealed, accept string) appResponse {
	a.t.Helper()
	req, _ := http.NewRequestWithContext(a.t.Context(), "GET", a.URL+"/dashboard", nil)
	if sealed != "" {
		req.AddCookie(&http.Cookie{Name: gatehouse.DefaultCookieName, Value: sealed})
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		a.t.Error(err)
		return appResponse{}
	}
	defer res.Body.Close()
	out := appResponse{Status: res.StatusCode, Location: res.Header.Get("Location"), SetCookie: res.Cookies()}
	b, _ := io.ReadAll(res.Body)
	json.Unmarshal(b, &out.Body)
	return out
}

// sessionCookie returns the session cookie a response set, or nil.
func (r appResponse) sessionCookie() *http.Cookie {
	for _, c := range r.SetCookie {
		if c.Name == gatehouse.DefaultCookieName {
			return c
		}
	}
	return nil
}

func TestSignInRefreshLogout(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		ctx := t.Context()
		// Access tokens live 2 s, so the test sees them expire.
		ttl := 2 * time.Second
		ts.settings(t, environments.SettingsInput{AccessTokenTTL: &ttl})
		cnt := &counter{}
		client := ts.client(t, cnt)
		m, err := gatehouse.NewSessionManager(client, cookiePassword, gatehouse.SessionOptions{Issuer: ts.Srv.Flow.Issuer(ts.Env)})
		if err != nil {
			t.Fatal(err)
		}

		// Sign up on the hosted page; the state comes back verbatim.
		state := "Fe26.2**csrf-nonce~2 {\"returnTo\":\"/dashboard?a=b&c=d\"}"
		authURL, err := client.AuthorizationURL(gatehouse.AuthorizationURLParams{RedirectURI: callback, State: state, ScreenHint: gatehouse.ScreenSignUp})
		if err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t, ts)
		back := b.signIn(authURL, "ada@example.com", true)
		if back.Query().Get("state") != state {
			t.Fatalf("state = %q, want %q", back.Query().Get("state"), state)
		}
		// A code works once; a second use fails (and ends the session it
		// started, so this uses a code of its own).
		spare, _ := client.AuthorizationURL(gatehouse.AuthorizationURLParams{RedirectURI: callback})
		code := b.signIn(spare, "ada@example.com", false).Query().Get("code")
		if _, err := client.AuthenticateWithCode(ctx, gatehouse.AuthenticateWithCodeParams{Code: code}); err != nil {
			t.Fatal(err)
		}
		if _, err := client.AuthenticateWithCode(ctx, gatehouse.AuthenticateWithCodeParams{Code: code}); !errors.Is(err, gatehouse.ErrInvalidGrant) {
			t.Fatalf("second use of a code: %v", err)
		}

		// PKCE, with the API key and as a public client (no key).
		public, err := gatehouse.NewClient(ts.URL, "", ts.Env.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string]*gatehouse.Client{"confidential": client, "public": public} {
			verifier, challenge, err := gatehouse.GeneratePKCE()
			if err != nil {
				t.Fatal(err)
			}
			u, _ := c.AuthorizationURL(gatehouse.AuthorizationURLParams{RedirectURI: callback, CodeChallenge: challenge})
			code := b.signIn(u, "ada@example.com", false).Query().Get("code")
			if _, err := c.AuthenticateWithCode(ctx, gatehouse.AuthenticateWithCodeParams{Code: code, CodeVerifier: strings.Repeat("x", 43)}); !errors.Is(err, gatehouse.ErrInvalidGrant) {
				t.Fatalf("%s: wrong verifier: %v", name, err)
			}
			code = b.signIn(u, "ada@example.com", false).Query().Get("code")
			r, err := c.AuthenticateWithCode(ctx, gatehouse.AuthenticateWithCodeParams{Code: code, CodeVerifier: verifier})
			if err != nil || r.User.Email != "ada@example.com" {
				t.Fatalf("%s PKCE exchange: %+v, %v", name, r, err)
			}
		}

		// Exchange the sign-up's code (codes live 10 minutes) only now, as
		// its access token lives 2 s.
		res, err := client.AuthenticateWithCode(ctx, gatehouse.AuthenticateWithCodeParams{Code: back.Query().Get("code")})
		if err != nil {
			t.Fatal(err)
		}
		if res.User.Email != "ada@example.com" || res.User.FirstName != "Test" || res.AuthenticationMethod != "Password" ||
			res.User.LastSignInAt == nil || time.Since(res.User.CreatedAt) > time.Minute || res.AccessToken == "" || res.RefreshToken == "" {
			t.Fatalf("code exchange = %+v", res)
		}

		// Seal and authenticate: the token verifies against the JWKS.
		sealed, err := m.Seal(res)
		if err != nil {
			t.Fatal(err)
		}
		s, err := m.Authenticate(ctx, sealed)
		if err != nil || !s.Authenticated {
			t.Fatalf("fresh session: %+v, %v", s, err)
		}
		if s.User.ID != res.User.ID || !strings.HasPrefix(s.SessionID, "session_") || s.AccessToken != res.AccessToken ||
			s.ExpiresAt.Sub(time.Now()) > ttl || s.AuthenticationMethod != "Password" {
			t.Fatalf("session = %+v", s)
		}
		sid := s.SessionID
		if d, err := gatehouse.UnsealSession(sealed, cookiePassword); err != nil || d.RefreshToken != res.RefreshToken {
			t.Fatalf("unseal: %+v, %v", d, err)
		}
		sessions := listSessions(t, client, res.User.ID)
		if sessions[sid].Status != "active" || sessions[sid].AuthMethod != "password" {
			t.Fatalf("sessions = %+v", sessions)
		}

		// The access token expires: invalid_jwt, flagged as expired.
		waitUntil(s.ExpiresAt)
		s, err = m.Authenticate(ctx, sealed)
		if err != nil || s.Authenticated || s.Reason != gatehouse.ReasonInvalidJWT || !s.Expired || s.SessionID != sid {
			t.Fatalf("expired session: %+v, %v", s, err)
		}

		// The middleware refreshes it transparently: no redirect, a new cookie.
		a := newApp(t, m)
		r := a.get(sealed, "")
		c := r.sessionCookie()
		if r.Status != 200 || r.Body["user_id"] != res.User.ID || r.Body["session_id"] != sid || c == nil {
			t.Fatalf("refresh through the middleware: %+v", r)
		}
		if c.Value == sealed || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure || c.MaxAge <= 0 {
			t.Fatalf("refreshed cookie = %+v", c)
		}
		refreshed := c.Value
		s, err = m.Authenticate(ctx, refreshed)
		if err != nil || !s.Authenticated || s.SessionID != sid {
			t.Fatalf("refreshed session: %+v, %v", s, err)
		}
		// A valid cookie passes without a refresh or a new cookie.
		before := cnt.get("POST /user_management/authenticate")
		if r := a.get(refreshed, ""); r.Status != 200 || r.sessionCookie() != nil || cnt.get("POST /user_management/authenticate") != before {
			t.Fatalf("valid cookie: %+v", r)
		}

		// 20 concurrent requests with one expired cookie all get through,
		// sharing one refresh.
		waitUntil(s.ExpiresAt)
		before = cnt.get("POST /user_management/authenticate")
		results := make([]appResponse, 20)
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() { results[i] = a.get(refreshed, "") })
		}
		wg.Wait()
		var next string
		for i, r := range results {
			c := r.sessionCookie()
			if r.Status != 200 || r.Body["session_id"] != sid || c == nil {
				t.Fatalf("concurrent request %d: %+v", i, r)
			}
			if next == "" {
				next = c.Value
			} else if c.Value != next {
				t.Fatalf("concurrent requests got different cookies")
			}
		}
		if n := cnt.get("POST /user_management/authenticate") - before; n != 1 {
			t.Fatalf("20 concurrent requests made %d refresh calls, want 1", n)
		}
		if s, err = m.Authenticate(ctx, next); err != nil || !s.Authenticated {
			t.Fatalf("after the concurrent refresh: %+v, %v", s, err)
		}

		// Two processes (two managers) refreshing one cookie at once: the
		// server's grace window gives both the same successor.
		waitUntil(s.ExpiresAt)
		var pair [2]*gatehouse.Session
		for i := range pair {
			other, _ := gatehouse.NewSessionManager(ts.client(t, nil), cookiePassword, gatehouse.SessionOptions{})
			wg.Go(func() {
				var err error
				if pair[i], err = other.Refresh(ctx, next, ""); err != nil || !pair[i].Authenticated {
					t.Errorf("process %d refresh: %+v, %v", i, pair[i], err)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		d0, _ := gatehouse.UnsealSession(pair[0].Sealed, cookiePassword)
		d1, _ := gatehouse.UnsealSession(pair[1].Sealed, cookiePassword)
		if d0.RefreshToken != d1.RefreshToken {
			t.Fatal("two processes refreshing one token got different successors")
		}
		last := pair[0].Sealed

		// Logout with an expired access token.
		waitUntil(pair[0].ExpiresAt)
		logout, err := m.LogoutURL(ctx, last, goodbye)
		if err != nil {
			t.Fatal(err)
		}
		if p := b.do("GET", logout, nil); p.Status != http.StatusFound || p.Location != goodbye {
			t.Fatalf("logout = %d %q", p.Status, p.Location)
		}
		if st := listSessions(t, client, res.User.ID)[sid].Status; st != "revoked" {
			t.Fatalf("after logout the session is %q", st)
		}
		// The session is over: refresh fails with invalid_grant ...
		s, err = m.Refresh(ctx, last, "")
		if err != nil || s.Authenticated || s.Reason != gatehouse.ReasonInvalidGrant {
			t.Fatalf("refresh after logout: %+v, %v", s, err)
		}
		// ... and the middleware sends the browser to sign in, clearing the
		// cookie, or answers 401 to an API client.
		r = a.get(last, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
		if c := r.sessionCookie(); r.Status != http.StatusFound || r.Location != "/login" || c == nil || c.MaxAge >= 0 {
			t.Fatalf("after logout, browser: %+v", r)
		}
		r = a.get(last, "application/json")
		if r.Status != http.StatusUnauthorized || r.Body["error"] != "unauthorized" {
			t.Fatalf("after logout, API client: %+v", r)
		}
		if r := a.get("", ""); r.Status != http.StatusFound || r.Location != "/login" {
			t.Fatalf("no cookie: %+v", r)
		}
		// A cookie sealed with another password is refused.
		foreign, _ := gatehouse.SealSession(&gatehouse.SessionData{AccessToken: res.AccessToken, RefreshToken: res.RefreshToken}, strings.Repeat("z", 32))
		if s, _ := m.Authenticate(ctx, foreign); s.Reason != gatehouse.ReasonInvalidSessionCookie {
			t.Fatalf("foreign cookie: %+v", s)
		}
	})
}

func listSessions(t *testing.T, c *gatehouse.Client, userID string) map[string]gatehouse.UserSession {
	t.Helper()
	out := map[string]gatehouse.UserSession{}
	for s, err := range c.ListSessions(t.Context(), userID, gatehouse.ListParams{Limit: 100}).All(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		out[s.ID] = s
	}
	return out
}

// An environment that signs with ES256 works the same way.
func TestES256Environment(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		alg := "ES256"
		ts.settings(t, environments.SettingsInput{SigningAlgorithm: &alg})
		client := ts.client(t, nil)
		m, err := gatehouse.NewSessionManager(client, cookiePassword, gatehouse.SessionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := client.AuthorizationURL(gatehouse.AuthorizationURLParams{RedirectURI: callback})
		code := newBrowser(t, ts).signIn(u, "ec@example.com", true).Query().Get("code")
		res, err := client.AuthenticateWithCode(t.Context(), gatehouse.AuthenticateWithCodeParams{Code: code})
		if err != nil {
			t.Fatal(err)
		}
		h, _, _ := strings.Cut(res.AccessToken, ".")
		hb, _ := base64.RawURLEncoding.DecodeString(h)
		if !strings.Contains(string(hb), `"ES256"`) {
			t.Fatalf("token header = %s", hb)
		}
		sealed, _ := m.Seal(res)
		if s, err := m.Authenticate(t.Context(), sealed); err != nil || !s.Authenticated {
			t.Fatalf("ES256 session: %+v, %v", s, err)
		}
		// With the wrong issuer configured the token is refused, and a
		// refreshed one is held to the same check.
		wrong, _ := gatehouse.NewSessionManager(client, cookiePassword, gatehouse.SessionOptions{Issuer: "https://someone-else.example.com"})
		if s, err := wrong.Authenticate(t.Context(), sealed); err != nil || s.Authenticated || s.Reason != gatehouse.ReasonInvalidJWT || s.Expired {
			t.Fatalf("wrong issuer: %+v, %v", s, err)
		}
		if s, err := wrong.Refresh(t.Context(), sealed, ""); err != nil || s.Authenticated || s.Reason != gatehouse.ReasonInvalidJWT {
			t.Fatalf("wrong issuer, refreshed: %+v, %v", s, err)
		}
	})
}
