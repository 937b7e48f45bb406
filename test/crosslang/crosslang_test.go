package crosslang_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/sdk/go/gatehouse"
)

const (
	callback       = "http://localhost:3000/callback"
	cookiePassword = "a-cookie-password-shared-by-the-go-and-node-apps"
	userPassword   = "correct horse battery staple"
	nodeTimeout    = time.Minute
)

// fixture is a running Gatehouse, a verified user, the Go SDK and a way to
// run the Node SDK, all sharing one cookie password.
// offsetClock is the server's clock, which a test can move ahead.
type offsetClock struct{ offset atomic.Int64 }

func (c *offsetClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

type fixture struct {
	clock    *offsetClock
	url      string
	env      *store.Environment
	client   *gatehouse.Client
	sessions *gatehouse.SessionManager
	node     string
	nodeEnv  []string
	email    string
	userID   string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	node := requireNode(t)
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	k, _ := secretbox.ParseKey(secretbox.GenerateKey())
	box, err := secretbox.New(k)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	clock := &offsetClock{}
	srv := server.New(server.Deps{Store: db, Box: box, BaseURL: "http://" + hs.Listener.Addr().String(), Now: clock.Now,
		Hasher: password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0),
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
	hs.Config.Handler = srv
	hs.Start()
	t.Cleanup(hs.Close)
	env, err := srv.Environments.Create(ctx, "Cross-language", store.Development)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := srv.Environments.CreateAPIKey(ctx, env, "crosslang")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Environments.AddRedirect(ctx, env, store.RedirectURI, callback, true); err != nil {
		t.Fatal(err)
	}

	client, err := gatehouse.NewClient(hs.URL, key, env.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := gatehouse.NewSessionManager(client, cookiePassword, gatehouse.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A verified user, so signing in needs no emailed code.
	email := "ada@example.com"
	u, err := client.CreateUser(ctx, gatehouse.CreateUserParams{Email: email, Password: userPassword, FirstName: "Ada", LastName: "Lovelace",
		EmailVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(hs.Listener.Addr().String())
	nodeDeps, _ := filepath.Abs(filepath.Join("..", "node"))
	return &fixture{clock: clock, url: hs.URL, env: env, client: client, sessions: sessions, node: node, email: email, userID: u.ID,
		nodeEnv: append(os.Environ(), "GATEHOUSE_HOST="+host, "GATEHOUSE_PORT="+port, "WORKOS_API_KEY="+key,
			"WORKOS_CLIENT_ID="+env.ClientID, "WORKOS_COOKIE_PASSWORD="+cookiePassword, "NODE_DEPS_DIR="+nodeDeps, "NO_COLOR=1")}
}

// requireNode returns the node binary, failing (never skipping) when node or
// the pinned SDK in test/node is missing.
func requireNode(t *testing.T) string {
	t.Helper()
	const fix = "run `npm ci --prefix test/node` from the repository root (needs Node.js 20 or later on PATH)"
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH: %v; install Node.js, then %s", err, fix)
	}
	if _, err := os.Stat(filepath.Join("..", "node", "node_modules", "@workos-inc", "node", "package.json")); err != nil {
		t.Fatalf("the WorkOS Node SDK is not installed in test/node (%v): %s", err, fix)
	}
	return node
}

// nodeResult is what session.mjs answers (the fields of every op).
type nodeResult struct {
	Authenticated  bool   `json:"authenticated"`
	Reason         string `json:"reason"`
	SealedSession  string `json:"sealedSession"`
	SessionID      string `json:"sessionId"`
	OrganizationID string `json:"organizationId"`
	AccessToken    string `json:"accessToken"`
	JSON           string `json:"json"`
	User           *struct {
		ID            string `json:"id"`
		Email         string `json:"email"`
		FirstName     string `json:"firstName"`
		LastName      string `json:"lastName"`
		EmailVerified bool   `json:"emailVerified"`
	} `json:"user"`
}

// runNode runs one op of session.mjs with the Node SDK.
func (f *fixture) runNode(t *testing.T, req map[string]string) nodeResult {
	t.Helper()
	in, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(t.Context(), nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.node, "session.mjs")
	cmd.Env = f.nodeEnv
	cmd.Stdin = bytes.NewReader(in)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("node session.mjs %s: %v\n%s", req["op"], err, errOut.String())
	}
	var res nodeResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("node session.mjs %s: %v in %q\n%s", req["op"], err, out.String(), errOut.String())
	}
	return res
}

// checkNode asserts the Node SDK authenticates sealed as the fixture's
// user in session sid.
func (f *fixture) checkNode(t *testing.T, what, sealed, sid string) {
	t.Helper()
	r := f.runNode(t, map[string]string{"op": "authenticate", "sessionData": sealed})
	if !r.Authenticated || r.Reason != "" {
		t.Fatalf("%s: Node authenticate() = authenticated %v, reason %q", what, r.Authenticated, r.Reason)
	}
	if r.User == nil || r.User.ID != f.userID || r.User.Email != f.email || r.User.FirstName != "Ada" || r.User.LastName != "Lovelace" || !r.User.EmailVerified {
		t.Fatalf("%s: Node sees user %+v, want %s %s", what, r.User, f.userID, f.email)
	}
	if r.SessionID != sid {
		t.Fatalf("%s: Node sees session %q, want %q", what, r.SessionID, sid)
	}
}

// checkGo asserts the Go SDK authenticates sealed as the fixture's user in
// session sid.
func (f *fixture) checkGo(t *testing.T, what, sealed, sid string) {
	t.Helper()
	s, err := f.sessions.Authenticate(t.Context(), sealed)
	if err != nil {
		t.Fatalf("%s: Go Authenticate: %v", what, err)
	}
	if !s.Authenticated || s.Reason != "" {
		t.Fatalf("%s: Go Authenticate = authenticated %v, reason %q", what, s.Authenticated, s.Reason)
	}
	u := s.User
	if u.ID != f.userID || u.Email != f.email || u.FirstName != "Ada" || u.LastName != "Lovelace" || !u.EmailVerified || u.CreatedAt.IsZero() {
		t.Fatalf("%s: Go sees user %+v, want %s %s", what, u, f.userID, f.email)
	}
	if s.SessionID != sid {
		t.Fatalf("%s: Go sees session %q, want %q", what, s.SessionID, sid)
	}
}

// samePayload asserts both SDKs read the same JSON out of sealed: Go's
// serialisation of what it unseals is byte for byte Node's.
func (f *fixture) samePayload(t *testing.T, what, sealed string) {
	t.Helper()
	d, err := gatehouse.UnsealSession(sealed, cookiePassword)
	if err != nil {
		t.Fatalf("%s: Go UnsealSession: %v", what, err)
	}
	goJSON, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	nodeJSON := f.runNode(t, map[string]string{"op": "unseal", "sessionData": sealed}).JSON
	if string(goJSON) != nodeJSON {
		t.Fatalf("%s: the payloads differ\n Go:   %s\n Node: %s", what, goJSON, nodeJSON)
	}
}

// signInCode signs the user in on the hosted pages with a cookie-keeping
// HTTP client and returns the authorization code sent back to the app.
func (f *fixture) signInCode(t *testing.T) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, u string, form url.Values) (int, string, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequestWithContext(t.Context(), method, u, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		loc := res.Header.Get("Location")
		if l, err := res.Request.URL.Parse(loc); err == nil && loc != "" {
			loc = l.String()
		}
		return res.StatusCode, loc, string(b)
	}
	field := func(pattern, body string) string {
		t.Helper()
		m := regexp.MustCompile(pattern).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no %s in the hosted page:\n%s", pattern, body)
		}
		return m[1]
	}
	authURL, err := f.client.AuthorizationURL(gatehouse.AuthorizationURLParams{RedirectURI: callback, State: "crosslang"})
	if err != nil {
		t.Fatal(err)
	}
	status, loc, body := do("GET", authURL, nil)
	if status != http.StatusFound || !strings.Contains(loc, "/hosted/") {
		t.Fatalf("authorize: %d %s\n%s", status, loc, body)
	}
	_, _, page := do("GET", loc, nil)
	form := url.Values{"csrf_token": {field(`name="csrf_token" value="([^"]+)"`, page)}, "request": {field(`name="request" value="([^"]+)"`, page)},
		"email": {f.email}, "password": {userPassword}}
	status, loc, body = do("POST", f.url+field(`<form method="post" action="([^"]+)"`, page), form)
	u, err := url.Parse(loc)
	if status != http.StatusSeeOther || err != nil || u.Scheme+"://"+u.Host+u.Path != callback || u.Query().Get("code") == "" {
		t.Fatalf("hosted sign-in: %d %s\n%s", status, loc, body)
	}
	if u.Query().Get("state") != "crosslang" {
		t.Fatalf("state %q came back", u.Query().Get("state"))
	}
	return u.Query().Get("code")
}

// sid reads the session ID claim of an access token, unverified.
func sid(t *testing.T, accessToken string) string {
	t.Helper()
	parts := strings.Split(accessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q is not a JWT", accessToken)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(b, &c); err != nil || !strings.HasPrefix(c.SID, "session_") {
		t.Fatalf("claims %s: sid %q, %v", b, c.SID, err)
	}
	return c.SID
}

// TestCrossLanguageSessions passes sealed sessions between the Go SDK and
// the official Node SDK in every direction.
func TestCrossLanguageSessions(t *testing.T) {
	f := setup(t)
	ctx := t.Context()

	// (a) Node seals (authenticateWithCode with sealSession, exactly as the
	// Express quickstart does); Go reads.
	code := f.signInCode(t)
	nr := f.runNode(t, map[string]string{"op": "code", "code": code})
	if nr.SealedSession == "" || nr.User == nil || nr.User.ID != f.userID {
		t.Fatalf("Node authenticateWithCode: %+v", nr)
	}
	nodeSealed, nodeSID := nr.SealedSession, sid(t, nr.AccessToken)
	t.Run("node seals, Go reads", func(t *testing.T) {
		f.checkGo(t, "Node-sealed cookie", nodeSealed, nodeSID)
		f.checkNode(t, "Node-sealed cookie (control)", nodeSealed, nodeSID)
		f.samePayload(t, "Node-sealed cookie", nodeSealed)
		// And through the Go middleware, as a Go app receiving the cookie.
		status, body, setCookie := middlewareGet(t, f.sessions, nodeSealed)
		if status != 200 || body["user_id"] != f.userID || body["session_id"] != nodeSID || setCookie != "" {
			t.Fatalf("Go middleware with the Node cookie: %d %v (Set-Cookie %q)", status, body, setCookie)
		}
	})

	// (b) Go seals (the password grant, then SessionManager.Seal); Node reads.
	res, err := f.client.AuthenticateWithPassword(ctx, gatehouse.AuthenticateWithPasswordParams{Email: f.email, Password: userPassword})
	if err != nil {
		t.Fatal(err)
	}
	goSealed, err := f.sessions.Seal(res)
	if err != nil {
		t.Fatal(err)
	}
	goSID := sid(t, res.AccessToken)
	if goSID == nodeSID {
		t.Fatal("two sign-ins share a session")
	}
	t.Run("Go seals, node reads", func(t *testing.T) {
		f.checkNode(t, "Go-sealed cookie", goSealed, goSID)
		f.checkGo(t, "Go-sealed cookie (control)", goSealed, goSID)
		f.samePayload(t, "Go-sealed cookie", goSealed)
	})

	// (c) Refresh in one language, read in the other, across a chain.
	t.Run("refresh across languages", func(t *testing.T) {
		// Go refreshes the Node cookie...
		gr, err := f.sessions.Refresh(ctx, nodeSealed, "")
		if err != nil || !gr.Authenticated || gr.Sealed == "" || gr.Sealed == nodeSealed || gr.SessionID != nodeSID {
			t.Fatalf("Go Refresh of the Node cookie: %+v, %v", gr, err)
		}
		f.checkNode(t, "Node cookie refreshed by Go", gr.Sealed, nodeSID)
		// ...Node refreshes that...
		nr := f.runNode(t, map[string]string{"op": "refresh", "sessionData": gr.Sealed})
		if !nr.Authenticated || nr.SealedSession == "" || nr.SessionID != nodeSID || nr.User == nil || nr.User.ID != f.userID {
			t.Fatalf("Node refresh() of the Go cookie: %+v", nr)
		}
		f.checkGo(t, "Go cookie refreshed by Node", nr.SealedSession, nodeSID)
		f.samePayload(t, "Go cookie refreshed by Node", nr.SealedSession)

		// ...and the refresh token rotated at each step: the first cookie's
		// token, used again after the 10-second grace, would end the session,
		// so only check that each cookie carries a new one.
		d0, _ := gatehouse.UnsealSession(nodeSealed, cookiePassword)
		d1, _ := gatehouse.UnsealSession(gr.Sealed, cookiePassword)
		d2, _ := gatehouse.UnsealSession(nr.SealedSession, cookiePassword)
		if d0.RefreshToken == d1.RefreshToken || d1.RefreshToken == d2.RefreshToken || d1.AccessToken == d2.AccessToken {
			t.Fatal("the refresh tokens did not rotate")
		}

		// Node refreshes the Go-sealed session of (b), Go reads it.
		nr = f.runNode(t, map[string]string{"op": "refresh", "sessionData": goSealed})
		if !nr.Authenticated || nr.SessionID != goSID {
			t.Fatalf("Node refresh() of the Go cookie: %+v", nr)
		}
		f.checkGo(t, "Go cookie refreshed by Node", nr.SealedSession, goSID)

		// Ten minutes later (the app's and the server's clocks both move
		// ahead) the Go middleware sees an expired token in a Node-sealed
		// cookie and refreshes it transparently; Node reads the cookie it sets.
		f.clock.offset.Store(int64(10 * time.Minute))
		defer f.clock.offset.Store(0)
		late, err := gatehouse.NewSessionManager(f.client, cookiePassword,
			gatehouse.SessionOptions{Now: func() time.Time { return time.Now().Add(10 * time.Minute) }})
		if err != nil {
			t.Fatal(err)
		}
		if s, err := late.Authenticate(ctx, nr.SealedSession); err != nil || s.Authenticated || !s.Expired {
			t.Fatalf("with the clock ahead the token should be expired: %+v %v", s, err)
		}
		status, body, setCookie := middlewareGet(t, late, nr.SealedSession)
		if status != 200 || body["session_id"] != goSID || setCookie == "" || setCookie == nr.SealedSession {
			t.Fatalf("Go middleware refresh: %d %v (new cookie: %v)", status, body, setCookie != "")
		}
		f.checkNode(t, "Node cookie refreshed by the Go middleware", setCookie, goSID)
	})

	t.Run("wrong password or tampering", func(t *testing.T) {
		other := strings.Repeat("another-password-", 3)
		r := f.runNode(t, map[string]string{"op": "authenticate", "sessionData": goSealed, "cookiePassword": other})
		if r.Authenticated || r.Reason != "invalid_session_cookie" {
			t.Fatalf("Node with another password: %+v", r)
		}
		i := strings.Index(nodeSealed, "**") + 2 // the MAC salt, after the empty expiry
		flip := byte('c')
		if nodeSealed[i] == flip {
			flip = 'd'
		}
		tampered := nodeSealed[:i] + string(flip) + nodeSealed[i+1:]
		s, err := f.sessions.Authenticate(ctx, tampered)
		if err != nil || s.Authenticated || s.Reason != gatehouse.ReasonInvalidSessionCookie {
			t.Fatalf("Go with a tampered Node cookie: %+v %v", s, err)
		}
		if _, err := gatehouse.UnsealSession(nodeSealed, other); !errors.Is(err, gatehouse.ErrInvalidSession) {
			t.Fatalf("Go UnsealSession with another password: %v", err)
		}
	})
}

// middlewareGet sends sealed as the session cookie to a handler behind
// m's middleware and returns the status, the JSON the handler wrote, and
// the new session cookie the middleware set, if any.
func middlewareGet(t *testing.T, m *gatehouse.SessionManager, sealed string) (int, map[string]string, string) {
	t.Helper()
	h := m.Middleware(gatehouse.MiddlewareOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := gatehouse.SessionFromContext(r.Context())
		json.NewEncoder(w).Encode(map[string]string{"user_id": s.User.ID, "session_id": s.SessionID})
	}))
	req := httptest.NewRequestWithContext(t.Context(), "GET", "/dashboard", nil)
	req.AddCookie(&http.Cookie{Name: gatehouse.DefaultCookieName, Value: sealed})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]string
	json.Unmarshal(rec.Body.Bytes(), &body)
	set := ""
	for _, c := range rec.Result().Cookies() {
		if c.Name == gatehouse.DefaultCookieName {
			set = c.Value
		}
	}
	return rec.Code, body, set
}
