package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/environments"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/sdk/go/gatehouse"
)

func TestGoExampleDotenv(t *testing.T) {
	in := "\ufeff# written by gatehouse dev\n" +
		"GATEHOUSE_URL=http://127.0.0.1:8080\n" +
		"\n" +
		"export WORKOS_API_KEY = sk_test_abc \n" +
		"WORKOS_CLIENT_ID='client_1 # not a comment'\n" +
		`WORKOS_COOKIE_PASSWORD="pa\"ss\nword"` + "\n" +
		"PORT=3001 # trailing comment\n" +
		"EMPTY=\n" +
		"PORT=3002\n"
	got, err := parseDotenv(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"GATEHOUSE_URL": "http://127.0.0.1:8080", "WORKOS_API_KEY": "sk_test_abc", "WORKOS_CLIENT_ID": "client_1 # not a comment",
		"WORKOS_COOKIE_PASSWORD": "pa\"ss\nword", "PORT": "3002", "EMPTY": "",
	}
	if len(got) != len(want) {
		t.Errorf("got %d variables %q, want %d", len(got), got, len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, bad := range []string{"NOEQUALS\n", "1ABC=x\n", "A B=x\n", "A='unterminated\n"} {
		if _, err := parseDotenv(strings.NewReader(bad)); err == nil {
			t.Errorf("parseDotenv(%q) succeeded", bad)
		}
	}
}

func TestGoExampleFindDotenv(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "examples", "go")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, ".gatehouse"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(root, ".gatehouse", "dev.env")
	if err := os.WriteFile(want, []byte("PORT=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	noEnv := func(string) string { return "" }
	got, explicit, err := findDotenv(noEnv)
	if err != nil || explicit {
		t.Fatal(got, explicit, err)
	}
	if real, _ := filepath.EvalSymlinks(want); got != want && got != real {
		t.Errorf("findDotenv = %q, want %q", got, want)
	}
	got, explicit, _ = findDotenv(func(k string) string {
		if k == "DOTENV_PATH" {
			return "/nowhere/dev.env"
		}
		return ""
	})
	if got != "/nowhere/dev.env" || !explicit {
		t.Errorf("with DOTENV_PATH: %q %v", got, explicit)
	}
	if _, err := readDotenv(got, true); err == nil {
		t.Error("a missing DOTENV_PATH file is not an error")
	}
	if vars, err := readDotenv("/nowhere/dev.env", false); err != nil || len(vars) != 0 {
		t.Errorf("a missing default file: %v %v", vars, err)
	}
}

func TestGoExampleConfig(t *testing.T) {
	file := map[string]string{"GATEHOUSE_URL": "http://127.0.0.1:8080", "WORKOS_API_KEY": "sk_file", "WORKOS_CLIENT_ID": "client_file",
		"WORKOS_COOKIE_PASSWORD": strings.Repeat("p", 32)}
	env := map[string]string{"WORKOS_API_KEY": "sk_env", "WORKOS_CLIENT_ID": "", "PORT": "4000"}
	c, err := loadConfig(func(k string) string { return env[k] }, file, "dev.env")
	if err != nil {
		t.Fatal(err)
	}
	if c.APIKey != "sk_env" || c.ClientID != "client_file" || c.Port != 4000 || c.AppURL != "http://localhost:4000" || c.ListenAddr != "localhost:4000" {
		t.Errorf("config = %+v", c)
	}
	env["APP_URL"] = "https://app.example.com/"
	if c, _ := loadConfig(func(k string) string { return env[k] }, file, "dev.env"); c.AppURL != "https://app.example.com" {
		t.Errorf("APP_URL = %q", c.AppURL)
	}
	_, err = loadConfig(func(string) string { return "" }, map[string]string{"WORKOS_API_KEY": "k"}, "dev.env")
	if err == nil || !strings.Contains(err.Error(), "missing GATEHOUSE_URL, WORKOS_CLIENT_ID, WORKOS_COOKIE_PASSWORD") {
		t.Errorf("missing variables: %v", err)
	}
	for _, bad := range []map[string]string{{"PORT": "http"}, {"PORT": "70000"}, {"APP_URL": "localhost:3000"}} {
		if _, err := loadConfig(func(k string) string { return bad[k] }, file, "dev.env"); err == nil {
			t.Errorf("loadConfig(%v) succeeded", bad)
		}
	}
}

func TestGoExampleCSRF(t *testing.T) {
	c := newCSRFTokens(strings.Repeat("x", 32))
	tok := c.Token("session_1")
	if !c.Valid("session_1", tok) {
		t.Fatal("a fresh token is not valid")
	}
	if c.Token("session_1") == tok {
		t.Error("tokens repeat")
	}
	other := newCSRFTokens(strings.Repeat("y", 32))
	nonce, mac, _ := strings.Cut(tok, ".")
	// flip changes a token part's first character, which carries six full
	// bits (the last one may carry padding bits a lenient decoder ignores).
	flip := func(s string) string {
		if s[0] == 'A' {
			return "B" + s[1:]
		}
		return "A" + s[1:]
	}
	for name, bad := range map[string]bool{
		"other session":  c.Valid("session_2", tok),
		"no session":     c.Valid("", tok),
		"other key":      other.Valid("session_1", tok),
		"empty":          c.Valid("session_1", ""),
		"no dot":         c.Valid("session_1", nonce+mac),
		"swapped":        c.Valid("session_1", mac+"."+nonce),
		"tampered nonce": c.Valid("session_1", flip(nonce)+"."+mac),
		"tampered mac":   c.Valid("session_1", nonce+"."+flip(mac)),
	} {
		if bad {
			t.Errorf("%s: accepted", name)
		}
	}
}

// ---------------------------------------------------------------------------
// The whole app against an in-process Gatehouse
// ---------------------------------------------------------------------------

const userPassword = "correct horse battery staple"

// browser is a cookie-keeping HTTP client that does not follow redirects.
type browser struct {
	t      *testing.T
	client *http.Client
}

type response struct {
	Status   int
	Location string
	Body     string
	Cookies  []*http.Cookie
}

func (b *browser) do(method, u string, form url.Values, header http.Header) response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	loc := res.Header.Get("Location")
	if loc != "" {
		if l, err := res.Request.URL.Parse(loc); err == nil {
			loc = l.String()
		}
	}
	return response{Status: res.StatusCode, Location: loc, Body: string(out), Cookies: res.Cookies()}
}

func (b *browser) get(u string) response { b.t.Helper(); return b.do("GET", u, nil, nil) }

func (b *browser) cookie(u, name string) string {
	pu, _ := url.Parse(u)
	for _, c := range b.client.Jar.Cookies(pu) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func match(t *testing.T, pattern, body string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in:\n%s", pattern, body)
	}
	return m[1]
}

// startGatehouse runs the real server on SQLite with an environment whose
// redirect URI, sign-out redirect and sign-in endpoint point at appURL.
func startGatehouse(t *testing.T, appURL string) (baseURL, apiKey string, env *store.Environment, srv *server.Server) {
	t.Helper()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
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
	srv = server.New(server.Deps{Store: db, Box: box, BaseURL: "http://" + hs.Listener.Addr().String(),
		Hasher: password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0),
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
	hs.Config.Handler = srv
	hs.Start()
	t.Cleanup(hs.Close)
	env, err = srv.Environments.Create(ctx, "Example", store.Development)
	if err != nil {
		t.Fatal(err)
	}
	apiKey, _, err = srv.Environments.CreateAPIKey(ctx, env, "example")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Environments.AddRedirect(ctx, env, store.RedirectURI, appURL+"/callback", true); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Environments.AddRedirect(ctx, env, store.SignOutRedirect, appURL+"/", true); err != nil {
		t.Fatal(err)
	}
	if env, err = srv.Environments.SetSignInEndpoint(ctx, env, appURL+"/login"); err != nil {
		t.Fatal(err)
	}
	return hs.URL, apiKey, env, srv
}

// TestGoExampleApp drives the app's routes over HTTP against a real Gatehouse:
// sign-in with state, the protected dashboard with a transparent refresh,
// the CSRF check on sign-out, and sign-out with an expired access token.
func TestGoExampleApp(t *testing.T) {
	ctx := t.Context()
	appServer := httptest.NewUnstartedServer(nil)
	appURL := "http://" + appServer.Listener.Addr().String()
	gURL, apiKey, env, srv := startGatehouse(t, appURL)

	cfg := config{GatehouseURL: gURL, APIKey: apiKey, ClientID: env.ClientID, CookiePassword: "an-example-cookie-password-of-32-characters-or-more",
		AppURL: appURL}
	a, err := newApp(cfg, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	appServer.Config.Handler = a.routes()
	appServer.Start()
	t.Cleanup(appServer.Close)

	client, err := gatehouse.NewClient(gURL, apiKey, env.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	email := "ada@example.com"
	if _, err := client.CreateUser(ctx, gatehouse.CreateUserParams{Email: email, Password: userPassword, FirstName: "Ada", LastName: "Lovelace", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}

	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}

	// Signed out.
	p := b.get(appURL + "/")
	if p.Status != 200 || !strings.Contains(p.Body, `href="/login"`) || p.Body == "" {
		t.Fatalf("home signed out: %d\n%s", p.Status, p.Body)
	}
	if csp := "form-action 'self' " + appURL + " " + gURL; !strings.Contains(a.csp, csp) {
		t.Errorf("CSP %q lacks %q", a.csp, csp)
	}
	if p := b.get(appURL + "/dashboard"); p.Status != http.StatusFound || p.Location != appURL+"/login" {
		t.Fatalf("dashboard signed out: %d %s", p.Status, p.Location)
	}

	// signIn goes /login → Gatehouse → hosted sign-in → /callback?code&state.
	signIn := func() response {
		t.Helper()
		p := b.get(appURL + "/login")
		if p.Status != http.StatusFound || !strings.HasPrefix(p.Location, gURL+"/user_management/authorize?") {
			t.Fatalf("/login: %d %s", p.Status, p.Location)
		}
		au, _ := url.Parse(p.Location)
		if q := au.Query(); q.Get("redirect_uri") != appURL+"/callback" || q.Get("client_id") != env.ClientID ||
			q.Get("state") == "" || q.Get("state") != b.cookie(appURL+"/callback", stateCookie) {
			t.Fatalf("authorization URL %s (state cookie %q)", p.Location, b.cookie(appURL+"/callback", stateCookie))
		}
		p = b.get(p.Location)
		if p.Status != http.StatusFound {
			t.Fatalf("authorize: %d\n%s", p.Status, p.Body)
		}
		if strings.HasPrefix(p.Location, gURL+"/hosted/") {
			page := b.get(p.Location)
			form := url.Values{"csrf_token": {match(t, `name="csrf_token" value="([^"]+)"`, page.Body)},
				"request": {match(t, `name="request" value="([^"]+)"`, page.Body)}, "email": {email}, "password": {userPassword}}
			p = b.do("POST", gURL+match(t, `<form method="post" action="([^"]+)"`, page.Body), form, nil)
			if p.Status != http.StatusSeeOther {
				t.Fatalf("hosted sign-in: %d\n%s", p.Status, p.Body)
			}
		}
		if !strings.HasPrefix(p.Location, appURL+"/callback?") {
			t.Fatalf("back to the app at %s", p.Location)
		}
		return b.get(p.Location)
	}

	p = signIn()
	if p.Status != http.StatusFound || p.Location != appURL+"/" {
		t.Fatalf("callback: %d %s\n%s", p.Status, p.Location, p.Body)
	}
	var session *http.Cookie
	for _, c := range p.Cookies {
		if c.Name == "wos-session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.Secure {
		t.Fatalf("session cookie %+v", session)
	}
	if b.cookie(appURL+"/callback", stateCookie) != "" {
		t.Error("the state cookie was not cleared")
	}
	// The cookie is in the Node SDK's format: the SDK's own unseal reads it.
	if d, err := gatehouse.UnsealSession(session.Value, cfg.CookiePassword); err != nil || d.User.Email != email {
		t.Fatalf("UnsealSession: %+v, %v", d, err)
	}

	p = b.get(appURL + "/")
	if p.Status != 200 || match(t, `<strong id="email">([^<]+)<`, p.Body) != email || !strings.Contains(p.Body, "Welcome, Ada Lovelace") {
		t.Fatalf("home signed in:\n%s", p.Body)
	}
	csrfToken := match(t, `name="_csrf" value="([^"]+)"`, p.Body)
	p = b.get(appURL + "/dashboard")
	if p.Status != 200 {
		t.Fatalf("dashboard: %d\n%s", p.Status, p.Body)
	}
	sid := match(t, `<dd id="session-id">([^<]+)<`, p.Body)
	if !strings.HasPrefix(sid, "session_") {
		t.Fatalf("session ID %q", sid)
	}

	// A callback with another state is refused, and signs nobody in.
	p = b.get(appURL + "/callback?code=whatever&state=forged")
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "state mismatch") {
		t.Fatalf("forged state: %d\n%s", p.Status, p.Body)
	}

	// Sign-out without or with a bad token is refused; the session stays.
	for name, form := range map[string]url.Values{"no token": {}, "bad token": {"_csrf": {"x.y"}},
		"other session's token": {"_csrf": {a.csrf.Token("session_other")}}} {
		p = b.do("POST", appURL+"/logout", form, nil)
		if p.Status != http.StatusForbidden {
			t.Fatalf("logout with %s: %d %s", name, p.Status, p.Location)
		}
	}
	p = b.do("POST", appURL+"/logout", url.Values{"_csrf": {csrfToken}}, http.Header{"Sec-Fetch-Site": {"cross-site"}})
	if p.Status != http.StatusForbidden {
		t.Fatalf("cross-site logout: %d", p.Status)
	}
	if b.cookie(appURL, "wos-session") == "" {
		t.Fatal("a refused sign-out cleared the cookie")
	}

	// An expired access token is refreshed transparently by the middleware.
	ttl := time.Second
	if _, err := srv.Environments.UpdateSettings(ctx, env, environments.SettingsInput{AccessTokenTTL: &ttl}); err != nil {
		t.Fatal(err)
	}
	// The cookie still holds a 5-minute token: trade it for a 1-second one.
	res, err := a.sessions.Refresh(ctx, b.cookie(appURL, "wos-session"), "")
	if err != nil || !res.Authenticated {
		t.Fatalf("refresh: %+v %v", res, err)
	}
	u, _ := url.Parse(appURL)
	jar.SetCookies(u, []*http.Cookie{{Name: "wos-session", Value: res.Sealed, Path: "/"}})
	time.Sleep(time.Until(res.ExpiresAt) + 1100*time.Millisecond)
	p = b.get(appURL + "/dashboard")
	after := b.cookie(appURL, "wos-session")
	if p.Status != 200 || after == res.Sealed || after == "" {
		t.Fatalf("dashboard after expiry: %d (cookie changed: %v)\n%s", p.Status, after != res.Sealed, p.Body)
	}
	if got := match(t, `<dd id="session-id">([^<]+)<`, p.Body); got != sid {
		t.Fatalf("session after refresh %q, want %q", got, sid)
	}

	// Sign-out works with an expired access token, with the token the home
	// page rendered before the refreshes (same session).
	time.Sleep(2100 * time.Millisecond)
	expired := b.cookie(appURL, "wos-session")
	if s, err := a.sessions.Authenticate(ctx, expired); err != nil || s.Authenticated || !s.Expired {
		t.Fatalf("the cookie should hold an expired token: %+v %v", s, err)
	}
	p = b.do("POST", appURL+"/logout", url.Values{"_csrf": {csrfToken}}, nil)
	want := gURL + "/user_management/sessions/logout?" + url.Values{"session_id": {sid}, "return_to": {appURL + "/"}}.Encode()
	if p.Status != http.StatusSeeOther || p.Location != want {
		t.Fatalf("logout: %d %s, want %s", p.Status, p.Location, want)
	}
	if b.cookie(appURL, "wos-session") != "" {
		t.Error("logout did not clear the cookie")
	}
	p = b.get(p.Location)
	if p.Status != http.StatusFound || p.Location != appURL+"/" {
		t.Fatalf("Gatehouse logout: %d %s", p.Status, p.Location)
	}
	// The session is over at Gatehouse too: its refresh token is dead.
	if s, err := a.sessions.Refresh(ctx, expired, ""); err != nil || s.Authenticated || s.Reason != gatehouse.ReasonInvalidGrant {
		t.Fatalf("refresh after logout: %+v %v", s, err)
	}
	if p := b.get(appURL + "/dashboard"); p.Status != http.StatusFound || p.Location != appURL+"/login" {
		t.Fatalf("dashboard after logout: %d %s", p.Status, p.Location)
	}
	// Gatehouse's browser session ended too: signing in asks again.
	p = b.get(appURL + "/login")
	p = b.get(p.Location)
	if !strings.HasPrefix(p.Location, gURL+"/hosted/") {
		t.Fatalf("authorize after logout went to %s, want the hosted sign-in page", p.Location)
	}
}
