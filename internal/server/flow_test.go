package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authflow"
	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tokens"
)

const callback = "http://localhost:3000/callback"

// fakeClock is a settable clock shared by the server's services.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	t      *testing.T
	ts     *testServer
	client *http.Client
}

func newBrowser(t *testing.T, ts *testServer) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, ts: ts, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	Status   int
	Location string
	Body     string
	Header   http.Header
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{Status: res.StatusCode, Location: res.Header.Get("Location"), Body: string(body), Header: res.Header}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	if strings.HasPrefix(path, "/") {
		path = b.ts.URL + path
	}
	req, _ := http.NewRequest("GET", path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

var (
	csrfRE    = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	requestRE = regexp.MustCompile(`name="request" value="([^"]+)"`)
	actionRE  = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

func field(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in page:\n%s", re, body)
	}
	return m[1]
}

// authorizeURL builds an authorization URL with the given extra parameters.
func authorizeURL(ts *testServer, extra url.Values) string {
	q := url.Values{"client_id": {ts.Env.ClientID}, "redirect_uri": {callback}, "response_type": {"code"}, "provider": {"authkit"}}
	for k, v := range extra {
		q[k] = v
	}
	return "/user_management/authorize?" + q.Encode()
}

// registerApp gives the test environment its redirect settings.
func registerApp(t *testing.T, ts *testServer) {
	t.Helper()
	ctx := t.Context()
	if _, err := ts.Srv.Environments.AddRedirect(ctx, ts.Env, store.RedirectURI, callback, true); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"http://localhost:3000/", "http://localhost:3000/goodbye"} {
		if _, err := ts.Srv.Environments.AddRedirect(ctx, ts.Env, store.SignOutRedirect, u, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.Srv.Environments.SetSignInEndpoint(ctx, ts.Env, "http://localhost:3000/login"); err != nil {
		t.Fatal(err)
	}
}

// signUp runs the hosted sign-up for a new user and returns the redirect
// back to the app.
func (b *browser) signUp(authorize, email, password string) *url.URL {
	b.t.Helper()
	p := b.get(authorize)
	if p.Status != http.StatusFound || !strings.Contains(p.Location, "/hosted/") {
		b.t.Fatalf("authorize = %d %q\n%s", p.Status, p.Location, p.Body)
	}
	loc := strings.Replace(p.Location, "/sign-in", "/sign-up", 1)
	p = b.get(loc)
	if p.Status != 200 {
		b.t.Fatalf("sign-up page = %d\n%s", p.Status, p.Body)
	}
	p = b.post(field(b.t, actionRE, p.Body), url.Values{"csrf_token": {field(b.t, csrfRE, p.Body)},
		"request": {field(b.t, requestRE, p.Body)}, "email": {email}, "password": {password}, "first_name": {"Test"}})
	if p.Status != http.StatusSeeOther {
		b.t.Fatalf("sign-up submit = %d\n%s", p.Status, p.Body)
	}
	if strings.Contains(p.Location, "/verify-email") {
		p = b.verifyEmail(p.Location, email)
	}
	u, _ := url.Parse(p.Location)
	return u
}

var codeRE = regexp.MustCompile(`\b(\d{6})\b`)

// lastCode returns the 6-digit code in the newest email to address.
func (ts *testServer) lastCode(t *testing.T, to string) string {
	t.Helper()
	page, err := ts.Store.ListEmails(t.Context(), "", store.ListParams{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Data {
		if e.To == to {
			if m := codeRE.FindStringSubmatch(e.Text); m != nil {
				return m[1]
			}
		}
	}
	t.Fatalf("no email with a code to %s", to)
	return ""
}

// verifyEmail completes the email-verification page with the emailed code.
func (b *browser) verifyEmail(location, email string) page {
	b.t.Helper()
	p := b.get(location)
	if p.Status != 200 || !strings.Contains(p.Body, "Check your email") {
		b.t.Fatalf("verification page = %d\n%s", p.Status, p.Body)
	}
	form := url.Values{"csrf_token": {field(b.t, csrfRE, p.Body)}, "request": {field(b.t, requestRE, p.Body)},
		"verification": {field(b.t, verificationRE, p.Body)}, "code": {b.ts.lastCode(b.t, email)}}
	p = b.post(field(b.t, actionRE, p.Body), form)
	if p.Status != http.StatusSeeOther {
		b.t.Fatalf("verification submit = %d\n%s", p.Status, p.Body)
	}
	return p
}

var verificationRE = regexp.MustCompile(`name="verification" value="([^"]+)"`)

// signIn runs the hosted sign-in and returns the final page.
func (b *browser) signIn(authorize, email, password string, headers ...string) page {
	b.t.Helper()
	p := b.get(authorize)
	if p.Status != http.StatusFound {
		b.t.Fatalf("authorize = %d\n%s", p.Status, p.Body)
	}
	if !strings.Contains(p.Location, "/hosted/") {
		return p // signed in already through the browser session
	}
	p = b.get(p.Location)
	return b.post(field(b.t, actionRE, p.Body), url.Values{"csrf_token": {field(b.t, csrfRE, p.Body)},
		"request": {field(b.t, requestRE, p.Body)}, "email": {email}, "password": {password}}, headers...)
}

type tokenResult struct {
	Status int
	Body   map[string]any
	Raw    string
}

// authenticate posts to /user_management/authenticate as an SDK does.
func (ts *testServer) authenticate(t *testing.T, body map[string]any) tokenResult {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", ts.URL+"/user_management/authenticate", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := tokenResult{Status: res.StatusCode, Raw: string(raw)}
	json.Unmarshal(raw, &r.Body)
	if res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("authenticate Content-Type = %q", res.Header.Get("Content-Type"))
	}
	return r
}

func (ts *testServer) exchange(t *testing.T, code string, extra map[string]any) tokenResult {
	body := map[string]any{"grant_type": "authorization_code", "client_id": ts.Env.ClientID, "client_secret": ts.Key, "code": code}
	for k, v := range extra {
		if v == nil {
			delete(body, k)
		} else {
			body[k] = v
		}
	}
	return ts.authenticate(t, body)
}

func (ts *testServer) refresh(t *testing.T, rt string) tokenResult {
	return ts.authenticate(t, map[string]any{"grant_type": "refresh_token", "client_id": ts.Env.ClientID, "client_secret": ts.Key, "refresh_token": rt})
}

func wantGrantError(t *testing.T, r tokenResult, code string) {
	t.Helper()
	if r.Status != 400 || r.Body["error"] != code || r.Body["error_description"] == "" {
		t.Fatalf("got %d %s, want 400 %s", r.Status, r.Raw, code)
	}
}

func TestAuthorizeRejectsUnregisteredRedirect(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		registerApp(t, ts)
		b := newBrowser(t, ts)
		for name, q := range map[string]url.Values{
			"unregistered":     {"redirect_uri": {"https://evil.example.com/callback"}},
			"prefix trick":     {"redirect_uri": {callback + ".evil.com"}},
			"path suffix":      {"redirect_uri": {callback + "/x"}},
			"userinfo":         {"redirect_uri": {"http://localhost:3000@evil.com/callback"}},
			"no redirect":      {"redirect_uri": {""}},
			"unknown client":   {"client_id": {"client_01ARYZ6S41TSV4RRFFQ69G5FAV"}},
			"garbage client":   {"client_id": {"<script>"}, "redirect_uri": {"https://evil.example.com/"}},
			"bad response typ": {"redirect_uri": {"https://evil.example.com/callback"}, "response_type": {"token"}},
		} {
			t.Run(name, func(t *testing.T) {
				p := b.get(authorizeURL(ts, q))
				if p.Location != "" || p.Status != http.StatusBadRequest {
					t.Fatalf("got %d Location %q; want a 400 error page and no redirect", p.Status, p.Location)
				}
				if !strings.Contains(p.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || strings.Contains(p.Body, "<script>") {
					t.Fatalf("error page headers/body unsafe: %v\n%s", p.Header, p.Body)
				}
			})
		}
		// With a registered redirect URI, protocol errors go back OAuth-style with the state.
		p := b.get(authorizeURL(ts, url.Values{"response_type": {"token"}, "state": {"s 1"}}))
		u, _ := url.Parse(p.Location)
		if p.Status != http.StatusFound || u.Query().Get("error") != "unsupported_response_type" || u.Query().Get("state") != "s 1" ||
			!strings.HasPrefix(p.Location, callback+"?") {
			t.Fatalf("redirectable error = %d %q", p.Status, p.Location)
		}
		p = b.get(authorizeURL(ts, url.Values{"code_challenge": {"abc"}, "code_challenge_method": {"plain"}}))
		if u, _ := url.Parse(p.Location); u.Query().Get("error") != "invalid_request" {
			t.Fatalf("plain PKCE accepted: %q", p.Location)
		}
	})
}

func TestStateEchoedByteForByte(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		registerApp(t, ts)
		// 2.5 KB of URL-safe and percent-encoded characters, like an iron seal plus JSON.
		var sb strings.Builder
		sb.WriteString(`Fe26.2**abc~2{"returnTo":"/a?b=c&d=e f","n":"ü€😀"}*-_.~!'()%2F+`)
		for sb.Len() < 2500 {
			sb.WriteString("0123456789abcdefABCDEF-_.~*")
		}
		state := sb.String()
		b := newBrowser(t, ts)
		back := b.signUp(authorizeURL(ts, url.Values{"state": {state}}), "state@example.com", "correct horse battery staple")
		if got := back.Query().Get("state"); got != state {
			t.Fatalf("state changed:\n got %q\nwant %q", got, state)
		}
		if back.Query().Get("code") == "" || back.Scheme+"://"+back.Host+back.Path != callback {
			t.Fatalf("redirect = %s", back)
		}
		// No state sent: none returned.
		b2 := newBrowser(t, ts)
		back = b2.signUp(authorizeURL(ts, nil), "nostate@example.com", "correct horse battery staple")
		if _, ok := back.Query()["state"]; ok {
			t.Fatalf("state invented: %s", back)
		}
	})
}

func TestCodeSingleUseAndExpiry(t *testing.T) {
	backends(t, func(t *testing.T, tsReal *testServer) {
		clk := newClock()
		ts := startWith(t, tsReal.Store, clk.Now)
		registerApp(t, ts)
		b := newBrowser(t, ts)
		code := b.signUp(authorizeURL(ts, nil), "code@example.com", "correct horse battery staple").Query().Get("code")
		r := ts.exchange(t, code, nil)
		if r.Status != 200 {
			t.Fatalf("exchange = %d %s", r.Status, r.Raw)
		}
		user := r.Body["user"].(map[string]any)
		if user["email"] != "code@example.com" || r.Body["access_token"] == "" || r.Body["refresh_token"] == "" || r.Body["authentication_method"] != "Password" {
			t.Fatalf("exchange body = %s", r.Raw)
		}
		rt := r.Body["refresh_token"].(string)
		// Second use: invalid_grant, and the session it created is revoked.
		wantGrantError(t, ts.exchange(t, code, nil), "invalid_grant")
		wantGrantError(t, ts.refresh(t, rt), "invalid_grant")

		// A fresh code is good for 10 minutes, not 10 minutes and a second.
		code = b.signIn(authorizeURL(ts, nil), "code@example.com", "correct horse battery staple").Location
		u, _ := url.Parse(code)
		clk.Advance(10*time.Minute + time.Second)
		wantGrantError(t, ts.exchange(t, u.Query().Get("code"), nil), "invalid_grant")

		wantGrantError(t, ts.exchange(t, "not-a-code", nil), "invalid_grant")
		// A wrong client_secret is refused before the code is looked at.
		r = ts.exchange(t, code, map[string]any{"client_secret": "sk_test_wrong"})
		if r.Status != 401 || r.Body["error"] != "invalid_client" {
			t.Fatalf("wrong secret = %d %s", r.Status, r.Raw)
		}
	})
}

func pkce() (verifier, challenge string) {
	verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" + "extra-entropy-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestPKCE(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		registerApp(t, ts)
		verifier, challenge := pkce()
		q := url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
		b := newBrowser(t, ts)
		code := func() string {
			return b.signIn(authorizeURL(ts, q), "pkce@example.com", "correct horse battery staple").Location
		}
		b.signUp(authorizeURL(ts, q), "pkce@example.com", "correct horse battery staple")
		get := func(loc string) string { u, _ := url.Parse(loc); return u.Query().Get("code") }

		// Public client: verifier, no secret.
		r := ts.exchange(t, get(code()), map[string]any{"client_secret": nil, "code_verifier": verifier})
		if r.Status != 200 {
			t.Fatalf("PKCE exchange = %d %s", r.Status, r.Raw)
		}
		// Both secret and verifier (authkit-session does this).
		if r := ts.exchange(t, get(code()), map[string]any{"code_verifier": verifier}); r.Status != 200 {
			t.Fatalf("secret+verifier = %d %s", r.Status, r.Raw)
		}
		wantGrantError(t, ts.exchange(t, get(code()), map[string]any{"client_secret": nil, "code_verifier": strings.Repeat("x", 50)}), "invalid_grant")
		// A code with a challenge needs the verifier even with a secret.
		wantGrantError(t, ts.exchange(t, get(code()), nil), "invalid_grant")
		// No secret and no verifier: not even a client.
		if r := ts.exchange(t, get(code()), map[string]any{"client_secret": nil}); r.Status != 401 || r.Body["error"] != "invalid_client" {
			t.Fatalf("no credentials = %d %s", r.Status, r.Raw)
		}
		// A code without a challenge cannot be redeemed by a public client.
		plain := b.signIn(authorizeURL(ts, nil), "pkce@example.com", "correct horse battery staple").Location
		wantGrantError(t, ts.exchange(t, get(plain), map[string]any{"client_secret": nil, "code_verifier": verifier}), "invalid_grant")
	})
}

// session signs a new user up and returns the exchange result.
func session(t *testing.T, ts *testServer, email string) tokenResult {
	t.Helper()
	b := newBrowser(t, ts)
	code := b.signUp(authorizeURL(ts, nil), email, "correct horse battery staple").Query().Get("code")
	r := ts.exchange(t, code, nil)
	if r.Status != 200 {
		t.Fatalf("exchange = %d %s", r.Status, r.Raw)
	}
	return r
}

func TestRefreshRotationAndReuse(t *testing.T) {
	backends(t, func(t *testing.T, tsReal *testServer) {
		clk := newClock()
		ts := startWith(t, tsReal.Store, clk.Now)
		registerApp(t, ts)
		rt0 := session(t, ts, "rotate@example.com").Body["refresh_token"].(string)
		r1 := ts.refresh(t, rt0)
		if r1.Status != 200 {
			t.Fatalf("refresh = %d %s", r1.Status, r1.Raw)
		}
		rt1 := r1.Body["refresh_token"].(string)
		if rt1 == rt0 || r1.Body["access_token"] == "" {
			t.Fatal("refresh did not rotate the token")
		}
		r2 := ts.refresh(t, rt1)
		rt2 := r2.Body["refresh_token"].(string)
		// Outside the grace window, reusing rt0 is theft: invalid_grant and
		// the whole session ends, so even the newest token stops working.
		clk.Advance(time.Minute)
		wantGrantError(t, ts.refresh(t, rt0), "invalid_grant")
		wantGrantError(t, ts.refresh(t, rt2), "invalid_grant")
		wantGrantError(t, ts.refresh(t, "unknown"), "invalid_grant")
		r := ts.authenticate(t, map[string]any{"grant_type": "refresh_token", "client_id": ts.Env.ClientID})
		if r.Status != 401 && r.Status != 400 {
			t.Fatalf("refresh without token or secret = %d", r.Status)
		}
	})
}

func TestConcurrentRefreshWithinGrace(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		registerApp(t, ts)
		rt := session(t, ts, "concurrent@example.com").Body["refresh_token"].(string)
		const n = 6
		results := make([]tokenResult, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { results[i] = ts.refresh(t, rt) })
		}
		wg.Wait()
		next := ""
		for _, r := range results {
			if r.Status != 200 {
				t.Fatalf("a concurrent refresh failed: %d %s", r.Status, r.Raw)
			}
			got := r.Body["refresh_token"].(string)
			if next == "" {
				next = got
			} else if got != next {
				t.Fatalf("concurrent refreshes got different successors %q and %q", next, got)
			}
		}
		// The shared successor keeps working: the session survived.
		if r := ts.refresh(t, next); r.Status != 200 {
			t.Fatalf("refresh with the shared successor = %d %s", r.Status, r.Raw)
		}
	})
}

func TestLogoutReturnTo(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		registerApp(t, ts)
		b := newBrowser(t, ts)
		sid := func() string {
			code := b.signIn(authorizeURL(ts, nil), "logout@example.com", "correct horse battery staple").Location
			u, _ := url.Parse(code)
			r := ts.exchange(t, u.Query().Get("code"), nil)
			tok, _ := tokens.Verify(r.Body["access_token"].(string), jwks(t, ts), time.Now(), "")
			return tok.SessionID
		}
		b.signUp(authorizeURL(ts, nil), "logout@example.com", "correct horse battery staple")
		s := sid()
		for _, tc := range []struct{ returnTo, want string }{
			{"http://localhost:3000/goodbye", "http://localhost:3000/goodbye"},
			{"https://evil.example.com/", "http://localhost:3000/"},
			{"http://localhost:3000/goodbye/../x", "http://localhost:3000/"},
			{"", "http://localhost:3000/"},
		} {
			p := b.get("/user_management/sessions/logout?" + url.Values{"session_id": {s}, "return_to": {tc.returnTo}}.Encode())
			if p.Status != http.StatusFound || p.Location != tc.want {
				t.Errorf("return_to %q: %d %q, want %q", tc.returnTo, p.Status, p.Location, tc.want)
			}
		}
		// The session ended, and so did the browser session: the next
		// authorization asks for credentials.
		p := b.get(authorizeURL(ts, nil))
		if !strings.Contains(p.Location, "/hosted/") {
			t.Fatalf("after logout authorize went to %q", p.Location)
		}
		// Four logouts of one session, one sign-out logged.
		if ended := eventsOf(t, ts, authflow.EventSessionEnded, s); len(ended) != 1 || ended[0].Data["reason"] != "logout" {
			t.Errorf("session.ended events = %+v, want one", ended)
		}
		// A logout that comes without the browser's cookie ends its
		// browser session all the same.
		s2 := sid()
		if p := newBrowser(t, ts).get("/user_management/sessions/logout?" + url.Values{"session_id": {s2}}.Encode()); p.Status != http.StatusFound {
			t.Fatalf("cookieless logout = %d", p.Status)
		}
		if p := b.get(authorizeURL(ts, nil)); !strings.Contains(p.Location, "/hosted/") {
			t.Fatalf("after a cookieless logout authorize went to %q", p.Location)
		}
		// Unknown sessions log out fine; a missing session_id is a 422.
		if p := b.get("/user_management/sessions/logout?session_id=session_01ARYZ6S41TSV4RRFFQ69G5FAV"); p.Status != 200 {
			t.Errorf("unknown session logout = %d", p.Status)
		}
		if p := b.get("/user_management/sessions/logout"); p.Status != 422 {
			t.Errorf("logout without session_id = %d", p.Status)
		}
	})
}

func jwks(t *testing.T, ts *testServer) tokens.JWKS {
	t.Helper()
	res, err := http.Get(ts.URL + "/sso/jwks/" + ts.Env.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("JWKS = %d %s", res.StatusCode, body)
	}
	set, err := tokens.ParseJWKS(body)
	if err != nil {
		t.Fatalf("JWKS %s: %v", body, err)
	}
	return set
}

func TestJWKSAndKeyRotation(t *testing.T) {
	backends(t, func(t *testing.T, tsReal *testServer) {
		clk := newClock()
		ts := startWith(t, tsReal.Store, clk.Now)
		registerApp(t, ts)
		r := session(t, ts, "jwks@example.com")
		access := r.Body["access_token"].(string)
		// The JWKS has the RS256 key with every field the spec lists.
		res, _ := http.Get(ts.URL + "/sso/jwks/" + ts.Env.ClientID)
		var doc struct {
			Keys []map[string]any `json:"keys"`
		}
		json.NewDecoder(res.Body).Decode(&doc)
		res.Body.Close()
		if len(doc.Keys) != 1 {
			t.Fatalf("JWKS has %d keys", len(doc.Keys))
		}
		for _, f := range []string{"alg", "kty", "use", "kid", "n", "e", "x5c", "x5t#S256"} {
			if doc.Keys[0][f] == nil {
				t.Errorf("JWKS key lacks %s: %v", f, doc.Keys[0])
			}
		}
		if doc.Keys[0]["alg"] != "RS256" || doc.Keys[0]["kty"] != "RSA" || doc.Keys[0]["use"] != "sig" {
			t.Errorf("JWKS key = %v", doc.Keys[0])
		}
		claims, err := tokens.Verify(access, jwks(t, ts), clk.Now(), ts.Srv.Flow.Issuer(ts.Env))
		if err != nil {
			t.Fatalf("access token does not verify against the JWKS: %v", err)
		}
		if !strings.HasPrefix(claims.Subject, "user_") || !strings.HasPrefix(claims.SessionID, "session_") ||
			claims.ExpiresAt-claims.IssuedAt != int64(store.DefaultAccessTokenTTL/time.Second) || claims.ID == "" {
			t.Errorf("claims = %+v", claims)
		}
		if res, _ := http.Get(ts.URL + "/sso/jwks/client_unknown"); res.StatusCode != 404 {
			t.Errorf("JWKS of an unknown client = %d", res.StatusCode)
		}

		// Rotation: the new key is published before it signs anything.
		next, err := ts.Srv.Keys.Rotate(t.Context(), ts.Env, tokens.DefaultPublishAhead)
		if err != nil {
			t.Fatal(err)
		}
		ts.Srv.Keys.Invalidate(ts.Env.ID)
		if _, ok := kids(t, ts)[next.ID]; !ok {
			t.Fatal("the new key is not in the JWKS right after rotation")
		}
		rt := r.Body["refresh_token"].(string)
		r = ts.refresh(t, rt)
		if kid := kidOf(t, r.Body["access_token"].(string)); kid == next.ID {
			t.Fatal("the new key signed before its publish-ahead period")
		}
		oldSigner := kidOf(t, r.Body["access_token"].(string))
		// After the publish-ahead period, the new key signs; the old one stays published.
		clk.Advance(tokens.DefaultPublishAhead + time.Second)
		ts.Srv.Keys.Invalidate(ts.Env.ID)
		r = ts.refresh(t, r.Body["refresh_token"].(string))
		if kid := kidOf(t, r.Body["access_token"].(string)); kid != next.ID {
			t.Fatalf("after activation tokens are signed by %s, want %s", kid, next.ID)
		}
		if _, ok := kids(t, ts)[oldSigner]; !ok {
			t.Fatal("the old key left the JWKS while its tokens can still be valid")
		}
		// Once every old token has expired, the old key is gone.
		clk.Advance(store.DefaultAccessTokenTTL + 2*time.Minute)
		ts.Srv.Keys.Invalidate(ts.Env.ID)
		if _, ok := kids(t, ts)[oldSigner]; ok {
			t.Fatal("the old key is still published after its tokens expired")
		}
	})
}

func kids(t *testing.T, ts *testServer) map[string]bool {
	t.Helper()
	res, err := http.Get(ts.URL + "/sso/jwks/" + ts.Env.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	json.NewDecoder(res.Body).Decode(&doc)
	out := map[string]bool{}
	for _, k := range doc.Keys {
		out[k.Kid] = true
	}
	return out
}

func kidOf(t *testing.T, jwt string) string {
	t.Helper()
	h, _, _ := strings.Cut(jwt, ".")
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	json.Unmarshal(raw, &hdr)
	return hdr.Kid
}

func TestHostedFormsCSRF(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		registerApp(t, ts)
		b := newBrowser(t, ts)
		p := b.get(b.get(authorizeURL(ts, nil)).Location)
		csrf, req, action := field(t, csrfRE, p.Body), field(t, requestRE, p.Body), field(t, actionRE, p.Body)
		for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
			if p.Header.Get(h) == "" {
				t.Errorf("sign-in page lacks %s", h)
			}
		}
		form := func(token string) url.Values {
			return url.Values{"csrf_token": {token}, "request": {req}, "email": {"x@example.com"}, "password": {"whatever-password"}}
		}
		for name, tc := range map[string]struct {
			form    url.Values
			headers []string
		}{
			"missing token": {form(""), nil},
			"wrong token":   {form(strings.Repeat("A", 43)), nil},
			"cross-site":    {form(csrf), []string{"Sec-Fetch-Site", "cross-site"}},
		} {
			if p := b.post(action, tc.form, tc.headers...); p.Status != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", name, p.Status)
			}
		}
		// Another browser (no CSRF cookie) cannot reuse this page's token.
		other := newBrowser(t, ts)
		if p := other.post(action, form(csrf)); p.Status != http.StatusForbidden {
			t.Errorf("token without its cookie: %d, want 403", p.Status)
		}
		// The right token works (and gets the generic credentials error).
		if p := b.post(action, form(csrf)); p.Status != http.StatusUnauthorized {
			t.Errorf("valid form: %d, want 401", p.Status)
		}
	})
}

func TestGenericCredentialsErrorAndThrottle(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		registerApp(t, ts)
		session(t, ts, "known@example.com")
		scrub := regexp.MustCompile(`value="[^"]*"|authreq_\w+`)
		b := newBrowser(t, ts)
		wrongPassword := b.signIn(authorizeURL(ts, nil), "known@example.com", "not the password")
		unknownEmail := b.signIn(authorizeURL(ts, nil), "unknown@example.com", "not the password")
		if wrongPassword.Status != 401 || unknownEmail.Status != 401 {
			t.Fatalf("statuses %d, %d", wrongPassword.Status, unknownEmail.Status)
		}
		if !strings.Contains(wrongPassword.Body, "The email or password is incorrect.") {
			t.Fatalf("no generic message:\n%s", wrongPassword.Body)
		}
		if scrub.ReplaceAllString(wrongPassword.Body, "") != scrub.ReplaceAllString(unknownEmail.Body, "") {
			t.Fatalf("the pages for a wrong password and an unknown email differ:\n%s\n----\n%s", wrongPassword.Body, unknownEmail.Body)
		}
		// The same through the API's password grant.
		grant := func(email, pw string) tokenResult {
			return ts.authenticate(t, map[string]any{"grant_type": "password", "client_id": ts.Env.ClientID, "client_secret": ts.Key, "email": email, "password": pw})
		}
		a, c := grant("known@example.com", "nope nope nope"), grant("nobody@example.com", "nope nope nope")
		if a.Status != 400 || a.Raw != c.Raw || a.Body["code"] != "invalid_credentials" {
			t.Fatalf("password grant: %d %s vs %s", a.Status, a.Raw, c.Raw)
		}
		// Brute force: after the free failures, 429 with Retry-After.
		var last tokenResult
		for range 6 {
			last = grant("target@example.com", "guess guess guess")
		}
		if last.Status != 429 {
			t.Fatalf("after 6 failures: %d %s", last.Status, last.Raw)
		}
		// Even the right password waits while throttled, on the hosted page too.
		p := b.signIn(authorizeURL(ts, nil), "target@example.com", "guess guess guess")
		if p.Status != 429 || !strings.Contains(p.Body, "Too many sign-in attempts") {
			t.Fatalf("hosted page while throttled: %d", p.Status)
		}
		if ok := grant("known@example.com", "correct horse battery staple"); ok.Status != 200 {
			t.Fatalf("another account is not throttled: %d %s", ok.Status, ok.Raw)
		}
		// A success clears the email's failures: four wrong, the right one,
		// four wrong again, and none of them waits (nine would).
		for round := range 2 {
			for i := range 4 {
				if r := grant("known@example.com", "wrong wrong wrong"); r.Status != 400 {
					t.Fatalf("round %d, failure %d: %d %s", round, i, r.Status, r.Raw)
				}
			}
			if round == 0 {
				if ok := grant("known@example.com", "correct horse battery staple"); ok.Status != 200 {
					t.Fatalf("right password after four failures: %d %s", ok.Status, ok.Raw)
				}
			}
		}
	})
}

func TestSessionsAPI(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		registerApp(t, ts)
		r := session(t, ts, "sessions@example.com")
		userID := r.Body["user"].(map[string]any)["id"].(string)
		list := ts.do(t, "GET", "/user_management/users/"+userID+"/sessions", "")
		list.want(t, 200, "")
		data := list.Body["data"].([]any)
		if len(data) != 1 {
			t.Fatalf("sessions = %s", list.Raw)
		}
		s := data[0].(map[string]any)
		if s["object"] != "session" || s["status"] != "active" || s["auth_method"] != "password" || s["ip_address"] != "127.0.0.1" {
			t.Fatalf("session = %v", s)
		}
		ts.do(t, "POST", "/user_management/sessions/revoke", fmt.Sprintf(`{"session_id":%q}`, s["id"])).want(t, 200, "")
		list = ts.do(t, "GET", "/user_management/users/"+userID+"/sessions", "")
		if st := list.Body["data"].([]any)[0].(map[string]any)["status"]; st != "revoked" {
			t.Fatalf("after revoke status = %v", st)
		}
		wantGrantError(t, ts.refresh(t, r.Body["refresh_token"].(string)), "invalid_grant")
		ts.do(t, "GET", "/user_management/users/user_missing/sessions", "").want(t, 404, "")
		ts.do(t, "POST", "/user_management/sessions/revoke", `{}`).want(t, 422, "")
	})
}

func TestSignInWithoutRequestGoesToApp(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		b := newBrowser(t, ts)
		// No sign-in endpoint yet: a clear page.
		p := b.get("/hosted/" + ts.Env.ClientID + "/sign-in")
		if p.Status != 400 || !strings.Contains(p.Body, "sign-in endpoint") {
			t.Fatalf("without an endpoint: %d\n%s", p.Status, p.Body)
		}
		registerApp(t, ts)
		for _, path := range []string{"/sign-in", "/sign-up", "/sign-in?request=authreq_01ARYZ6S41TSV4RRFFQ69G5FAV", "/sign-in?request=junk"} {
			p := b.get("/hosted/" + ts.Env.ClientID + path)
			if p.Status != http.StatusFound || p.Location != "http://localhost:3000/login" {
				t.Errorf("%s: %d %q", path, p.Status, p.Location)
			}
		}
	})
}

// TestBrowserSessionIdle follows a returning browser's session through the
// idle timeout (7 days by default). Activity is recorded at most once a
// minute, so the session lives while it is used and ends one idle timeout
// after the activity last recorded.
func TestBrowserSessionIdle(t *testing.T) {
	backends(t, func(t *testing.T, tsReal *testServer) {
		clk := newClock()
		ts := startWith(t, tsReal.Store, clk.Now)
		registerApp(t, ts)
		b := newBrowser(t, ts)
		b.signUp(authorizeURL(ts, nil), "idle@example.com", "correct horse battery staple")
		returning := func(step string, want bool) {
			t.Helper()
			p := b.get(authorizeURL(ts, nil))
			got := p.Status == http.StatusFound && strings.HasPrefix(p.Location, callback+"?code=")
			if got != want || p.Status != http.StatusFound {
				t.Fatalf("%s: authorize = %d to %s; signed in straight away: %v, want %v", step, p.Status, p.Location, got, want)
			}
		}
		idle := store.DefaultSessionIdleTimeout
		clk.Advance(idle - 2*time.Minute)
		returning("just inside the idle timeout", true) // recorded: over a minute since the last
		clk.Advance(idle - 2*time.Minute)
		returning("again, counted from the last use", true)
		clk.Advance(30 * time.Second)
		returning("30 s later", true) // not recorded: under a minute
		clk.Advance(idle - 30*time.Second)
		returning("one idle timeout after the last recorded use", false)
	})
}

// TestRequestCompletedOnce posts the same hosted sign-in form twice: the
// first completes the request (code, browser session cookie), the second
// finds it gone and sends the browser back to the app's sign-in endpoint,
// with no code and no new browser session. Two completions racing past
// that check are settled by the store: the second gets ErrRequestGone.
func TestRequestCompletedOnce(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		registerApp(t, ts)
		session(t, ts, "twice@example.com")
		b := newBrowser(t, ts)
		p := b.get(authorizeURL(ts, nil))
		p = b.get(p.Location)
		action := field(t, actionRE, p.Body)
		form := url.Values{"csrf_token": {field(t, csrfRE, p.Body)}, "request": {field(t, requestRE, p.Body)},
			"email": {"twice@example.com"}, "password": {"correct horse battery staple"}}
		first := b.post(action, form)
		if first.Status != http.StatusSeeOther || !strings.HasPrefix(first.Location, callback+"?code=") ||
			len(first.Header.Values("Set-Cookie")) == 0 {
			t.Fatalf("first submit = %d to %s, cookies %q", first.Status, first.Location, first.Header.Values("Set-Cookie"))
		}
		second := b.post(action, form)
		if second.Status != http.StatusFound || strings.Contains(second.Location, "code=") {
			t.Fatalf("second submit = %d to %s\n%s", second.Status, second.Location, second.Body)
		}
		for _, c := range second.Header.Values("Set-Cookie") {
			if strings.HasPrefix(c, "gh_"+ts.Env.ID+"=") {
				t.Errorf("second submit set a browser session cookie: %s", c)
			}
		}

		ctx := t.Context()
		u, err := ts.Store.GetUserByEmail(ctx, ts.Env.ID, "twice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		now := store.Now()
		req := &store.AuthRequest{ID: ids.New("authreq"), EnvironmentID: ts.Env.ID, ClientID: ts.Env.ClientID,
			RedirectURI: callback, ScreenHint: "sign-in", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := ts.Srv.Flow.SaveAuthorization(ctx, req); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ts.Srv.Flow.Complete(ctx, ts.Env, req, u, "password", authflow.Client{}); err != nil {
			t.Fatalf("first Complete: %v", err)
		}
		if to, tok, err := ts.Srv.Flow.Complete(ctx, ts.Env, req, u, "password", authflow.Client{}); !errors.Is(err, authflow.ErrRequestGone) || to != "" || tok != "" {
			t.Fatalf("second Complete = %q, %q, %v; want ErrRequestGone", to, tok, err)
		}
	})
}

// TestShortIdleTimeoutKeptAliveByUse sets the shortest idle timeout (one
// minute) and uses the session every 50 s, by refresh and by returning to
// authorize: it stays alive, and ends a minute after the last use.
func TestShortIdleTimeoutKeptAliveByUse(t *testing.T) {
	backends(t, func(t *testing.T, tsReal *testServer) {
		clk := newClock()
		ts := startWith(t, tsReal.Store, clk.Now)
		registerApp(t, ts)
		if _, err := ts.Store.UpdateEnvironment(t.Context(), ts.Env.ID, func(e *store.Environment) error {
			e.SessionIdleTimeout = time.Minute
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t, ts)
		code := b.signUp(authorizeURL(ts, nil), "short-idle@example.com", "correct horse battery staple").Query().Get("code")
		r := ts.exchange(t, code, nil)
		if r.Status != 200 {
			t.Fatalf("exchange = %d %s", r.Status, r.Raw)
		}
		rt := r.Body["refresh_token"].(string)
		for i := range 5 {
			clk.Advance(50 * time.Second)
			r = ts.refresh(t, rt)
			if r.Status != 200 {
				t.Fatalf("refresh %d, %d s after the last: %d %s", i, 50, r.Status, r.Raw)
			}
			rt = r.Body["refresh_token"].(string)
			if p := b.get(authorizeURL(ts, nil)); !strings.HasPrefix(p.Location, callback+"?code=") {
				t.Fatalf("authorize %d, 50 s after the last: %d to %s", i, p.Status, p.Location)
			}
		}
		clk.Advance(time.Minute)
		wantGrantError(t, ts.refresh(t, rt), "invalid_grant")
		if p := b.get(authorizeURL(ts, nil)); strings.HasPrefix(p.Location, callback+"?code=") {
			t.Fatalf("authorize a minute after the last use: signed in straight away (%s)", p.Location)
		}
	})
}

// forwardedFor is a transport that sends X-Forwarded-For, as a proxy would.
type forwardedFor string

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", string(f))
	return http.DefaultTransport.RoundTrip(r)
}

// Behind a trusted proxy the session records the client address the proxy
// appended to X-Forwarded-For, not a forged one left of it; when the peer
// is not a trusted proxy the header is ignored.
func TestClientBehindProxy(t *testing.T) {
	backends(t, func(t *testing.T, plain *testServer) {
		for i, tc := range []struct {
			name    string
			trusted []netip.Prefix
			want    string
		}{
			{"the peer is a trusted proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "203.0.113.9"},
			{"no proxies trusted", nil, "127.0.0.1"},
			{"another proxy trusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "127.0.0.1"},
		} {
			ts := startDeps(t, plain.Store, func(d *server.Deps) { d.TrustedProxies = tc.trusted })
			registerApp(t, ts)
			b := newBrowser(t, ts)
			b.client.Transport = forwardedFor("198.51.100.66, 203.0.113.9")
			code := b.signUp(authorizeURL(ts, nil), fmt.Sprintf("proxied%d@example.com", i), "correct horse battery staple").Query().Get("code")
			r := ts.exchange(t, code, nil)
			if r.Status != 200 {
				t.Fatalf("%s: exchange = %d %s", tc.name, r.Status, r.Raw)
			}
			userID := r.Body["user"].(map[string]any)["id"].(string)
			list := ts.do(t, "GET", "/user_management/users/"+userID+"/sessions", "")
			data, _ := list.Body["data"].([]any)
			if len(data) != 1 {
				t.Fatalf("%s: sessions = %s", tc.name, list.Raw)
			}
			if got := data[0].(map[string]any)["ip_address"]; got != tc.want {
				t.Errorf("%s: session ip_address = %v, want %s", tc.name, got, tc.want)
			}
		}
	})
}

// postAuthenticate posts body as JSON to /user_management/authenticate,
// with key as its Idempotency-Key unless empty.
func postAuthenticate(t *testing.T, ts *testServer, body, key string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", ts.URL+"/user_management/authenticate", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(raw)
}

// A code exchange retried with the same Idempotency-Key (as the WorkOS
// SDKs retry a POST whose response was lost) gets the first response
// again, and the session it started lives on; the key with another
// request is refused. Retried without a key, the code is reused, which
// ends the session.
func TestExchangeRetriedWithIdempotencyKey(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		registerApp(t, ts)
		exchangeBody := func(email string) string {
			code := newBrowser(t, ts).signUp(authorizeURL(ts, nil), email, "correct horse battery staple").Query().Get("code")
			return fmt.Sprintf(`{"grant_type":"authorization_code","client_id":%q,"client_secret":%q,"code":%q}`, ts.Env.ClientID, ts.Key, code)
		}

		body := exchangeBody("retried@example.com")
		s1, h1, r1 := postAuthenticate(t, ts, body, "retry-6f1c2a")
		s2, h2, r2 := postAuthenticate(t, ts, body, "retry-6f1c2a")
		if s1 != 200 || s2 != 200 || r1 != r2 {
			t.Fatalf("exchange and its retry: %d %s / %d %s; want the same 200 twice", s1, r1, s2, r2)
		}
		if h1.Get("Idempotent-Replayed") != "" || h2.Get("Idempotent-Replayed") != "true" || h2.Get("Content-Type") != "application/json" ||
			h1.Get("X-Request-Id") == h2.Get("X-Request-Id") {
			t.Errorf("headers: first %v, retry %v", h1, h2)
		}
		var tok struct {
			RefreshToken string `json:"refresh_token"`
		}
		json.Unmarshal([]byte(r1), &tok)
		// The session lives. Refreshes are not kept: a retried refresh is
		// answered by the refresh grace window instead.
		refresh := fmt.Sprintf(`{"grant_type":"refresh_token","client_id":%q,"client_secret":%q,"refresh_token":%q}`, ts.Env.ClientID, ts.Key, tok.RefreshToken)
		s1, _, r1 = postAuthenticate(t, ts, refresh, "retry-9d07")
		s2, h2, r2 = postAuthenticate(t, ts, refresh, "retry-9d07")
		if s1 != 200 || s2 != 200 || h2.Get("Idempotent-Replayed") != "" || r1 == r2 {
			t.Fatalf("refresh and its retry: %d, %d (replayed %q); want two 200s, the second not replayed", s1, s2, h2.Get("Idempotent-Replayed"))
		}
		if s, _, r := postAuthenticate(t, ts, strings.Replace(body, `"code":"`, `"code":"x`, 1), "retry-6f1c2a"); s != 422 || !strings.Contains(r, "invalid_request") {
			t.Errorf("the key with another request: %d %s, want 422 invalid_request", s, r)
		}
		if s, _, r := postAuthenticate(t, ts, body, strings.Repeat("k", 256)); s != 400 || !strings.Contains(r, "invalid_request") {
			t.Errorf("a 256-character key: %d %s, want 400 invalid_request", s, r)
		}

		// Without the key the retry is a reused code, and the session ends.
		body = exchangeBody("unkeyed@example.com")
		s1, _, r1 = postAuthenticate(t, ts, body, "")
		if s, _, r := postAuthenticate(t, ts, body, ""); s1 != 200 || s != 400 || !strings.Contains(r, "invalid_grant") {
			t.Fatalf("unkeyed exchange and retry: %d, then %d %s; want 200 then invalid_grant", s1, s, r)
		}
		json.Unmarshal([]byte(r1), &tok)
		wantGrantError(t, ts.refresh(t, tok.RefreshToken), "invalid_grant")
	})
}

// claimCounter counts the idempotency keys a real store is asked to claim.
type claimCounter struct {
	store.Store
	claims atomic.Int64
}

func (c *claimCounter) ClaimIdempotencyKey(ctx context.Context, rec *store.IdempotencyRecord, staleBefore time.Time) (bool, *store.IdempotencyRecord, error) {
	c.claims.Add(1)
	return c.Store.ClaimIdempotencyKey(ctx, rec, staleBefore)
}

// A keyed authenticate request whose client cannot use its grant (an
// unknown client_id, a wrong client_secret, a grant that needs the secret)
// is refused as an unkeyed one is, before its key is claimed: without an
// API key, Idempotency-Key cannot make the server write. A client that
// passes the check claims the key, also when the grant then fails.
func TestKeyedAuthenticateRefusedBeforeItsClaim(t *testing.T) {
	backends(t, func(t *testing.T, plain *testServer) {
		counter := &claimCounter{Store: plain.Store}
		ts := startDeps(t, counter, func(*server.Deps) {})
		if r := ts.do(t, "POST", "/user_management/users", `{"email":"keyed@example.com","password":"correct horse battery staple","email_verified":true}`); r.Status != 201 {
			t.Fatalf("create user: %d %s", r.Status, r.Raw)
		}
		password := func(clientID, secret string) string {
			return fmt.Sprintf(`{"grant_type":"password","client_id":%q,"client_secret":%q,"email":"keyed@example.com","password":"correct horse battery staple"}`, clientID, secret)
		}
		id := ts.Env.ClientID
		refused := []struct {
			name, body, want string
			status           int
		}{
			{"unknown client_id", password("client_01UNKNOWN", ts.Key), "invalid_client", 400},
			{"wrong client_secret", password(id, "sk_test_wrong"), "invalid_client", 401},
			{"password grant without a secret", fmt.Sprintf(`{"grant_type":"password","client_id":%q,"email":"keyed@example.com","password":"x"}`, id), "invalid_client", 401},
			{"code without a secret or verifier", fmt.Sprintf(`{"grant_type":"authorization_code","client_id":%q,"code":"01ABC"}`, id), "invalid_client", 401},
			{"magic-auth without a secret", fmt.Sprintf(`{"grant_type":"urn:workos:oauth:grant-type:magic-auth:code","client_id":%q,"email":"keyed@example.com","code":"123456"}`, id), "invalid_client", 401},
			{"unsupported grant", fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}`, id, ts.Key), "unsupported_grant_type", 400},
			{"no grant_type", fmt.Sprintf(`{"client_id":%q,"client_secret":%q}`, id, ts.Key), "invalid_request", 400},
		}
		for i, tc := range refused {
			status, _, body := postAuthenticate(t, ts, tc.body, fmt.Sprintf("refused-%d", i))
			unkeyedStatus, _, unkeyedBody := postAuthenticate(t, ts, tc.body, "")
			if status != tc.status || !strings.Contains(body, `"error":"`+tc.want+`"`) || status != unkeyedStatus || body != unkeyedBody {
				t.Errorf("%s: keyed %d %s, unkeyed %d %s; want %d %s both", tc.name, status, body, unkeyedStatus, unkeyedBody, tc.status, tc.want)
			}
		}
		if n := counter.claims.Load(); n != 0 {
			t.Errorf("%d requests refused for their client claimed %d keys; want 0", len(refused), n)
		}

		// The client passes: the key is claimed, and released when the
		// grant fails (a wrong password), so that a retry runs again.
		wrong := strings.Replace(password(id, ts.Key), "correct horse", "wrong horse", 1)
		if status, _, body := postAuthenticate(t, ts, wrong, "passes-1"); status != 400 || counter.claims.Load() != 1 {
			t.Errorf("wrong password, keyed: %d %s after %d claims; want 400 after 1", status, body, counter.claims.Load())
		}
		s1, _, r1 := postAuthenticate(t, ts, password(id, ts.Key), "passes-2")
		s2, _, r2 := postAuthenticate(t, ts, password(id, ts.Key), "passes-2")
		if s1 != 200 || s2 != 200 || r1 != r2 || counter.claims.Load() != 3 {
			t.Errorf("sign-in and its keyed retry: %d, %d, same body %v, %d claims; want 200 twice, the same body, 3 claims", s1, s2, r1 == r2, counter.claims.Load())
		}
	})
}
