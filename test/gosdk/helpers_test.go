package gosdk

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/environments"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/sqlite/sqlitetest"
	"github.com/gatehouse/gatehouse/sdk/go/gatehouse"
)

const (
	callback       = "http://localhost:3000/callback"
	goodbye        = "http://localhost:3000/goodbye"
	cookiePassword = "a-cookie-password-of-at-least-32-characters"
	userPassword   = "correct horse battery staple"
)

// cheapHasher keeps tests fast; production parameters are tested in package password.
var cheapHasher = password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0)

type testServer struct {
	URL   string
	Key   string
	Srv   *server.Server
	Store store.Store
	Env   *store.Environment
}

// backends runs fn against a real server on each backend: SQLite always,
// PostgreSQL when GATEHOUSE_TEST_POSTGRES_URL is set (as
// internal/server/server_test.go does).
func backends(t *testing.T, fn func(t *testing.T, ts *testServer)) {
	t.Run("sqlite", func(t *testing.T) {
		db := sqlitetest.New(t)
		fn(t, start(t, db))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, start(t, pgtest.New(t)))
	})
}

// start runs a server on st with an environment, an API key, and the app's
// redirect URI, sign-out redirects and sign-in endpoint registered.
func start(t *testing.T, st store.Store) *testServer {
	t.Helper()
	ctx := t.Context()
	k, _ := secretbox.ParseKey(secretbox.GenerateKey())
	box, err := secretbox.New(k)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	hs := httptest.NewUnstartedServer(nil)
	srv := server.New(server.Deps{Store: st, Logger: logger, Hasher: cheapHasher, Box: box,
		BaseURL: "http://" + hs.Listener.Addr().String()})
	hs.Config.Handler = srv
	hs.Start()
	t.Cleanup(hs.Close)
	env, err := srv.Environments.Create(ctx, "Test", store.Development)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := srv.Environments.CreateAPIKey(ctx, env, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Environments.AddRedirect(ctx, env, store.RedirectURI, callback, true); err != nil {
		t.Fatal(err)
	}
	for i, u := range []string{"http://localhost:3000/", goodbye} {
		if _, err := srv.Environments.AddRedirect(ctx, env, store.SignOutRedirect, u, i == 0); err != nil {
			t.Fatal(err)
		}
	}
	if env, err = srv.Environments.SetSignInEndpoint(ctx, env, "http://localhost:3000/login"); err != nil {
		t.Fatal(err)
	}
	return &testServer{URL: hs.URL, Key: key, Srv: srv, Store: st, Env: env}
}

// settings changes the environment's settings.
func (ts *testServer) settings(t *testing.T, in environments.SettingsInput) {
	t.Helper()
	env, err := ts.Srv.Environments.UpdateSettings(t.Context(), ts.Env, in)
	if err != nil {
		t.Fatal(err)
	}
	ts.Env = env
}

// counter is an http.RoundTripper that counts requests by method and path.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[r.Method+" "+r.URL.Path]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *counter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

// client returns an SDK client of ts with the test API key, counting its
// requests in cnt (if not nil).
func (ts *testServer) client(t *testing.T, cnt *counter, opts ...gatehouse.Option) *gatehouse.Client {
	t.Helper()
	if cnt != nil {
		opts = append(opts, gatehouse.WithHTTPClient(&http.Client{Transport: cnt}))
	}
	c, err := gatehouse.NewClient(ts.URL, ts.Key, ts.Env.ClientID, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
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

var codeRE = regexp.MustCompile(`\b(\d{6})\b`)

// lastCode returns the 6-digit code of the newest email to an address (the
// server captures email in its outbox in tests).
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

type page struct {
	Status   int
	Location string
	Body     string
}

func (b *browser) do(method, u string, form url.Values) page {
	b.t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, u, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{Status: res.StatusCode, Location: res.Header.Get("Location"), Body: string(body)}
}

var (
	csrfRE    = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	requestRE = regexp.MustCompile(`name="request" value="([^"]+)"`)
	actionRE  = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	// verificationRE finds the email verification ID on the code page.
	verificationRE = regexp.MustCompile(`name="verification" value="([^"]+)"`)
)

func field(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in page:\n%s", re, body)
	}
	return m[1]
}

// resolve makes a Location relative to the server absolute.
func resolve(base, loc string) string {
	u, _ := url.Parse(base)
	r, _ := u.Parse(loc)
	return r.String()
}

// signIn follows an authorization URL through the hosted page (sign-up when
// signUp is set, else sign-in) and returns the redirect back to the app. A
// browser with a live Gatehouse session is redirected at once.
func (b *browser) signIn(authURL, email string, signUp bool) *url.URL {
	b.t.Helper()
	p := b.do("GET", authURL, nil)
	if p.Status != http.StatusFound {
		b.t.Fatalf("authorize = %d\n%s", p.Status, p.Body)
	}
	if strings.Contains(p.Location, "/hosted/") {
		loc := resolve(authURL, p.Location)
		if signUp {
			loc = strings.Replace(loc, "/sign-in", "/sign-up", 1)
		}
		p = b.do("GET", loc, nil)
		if p.Status != 200 {
			b.t.Fatalf("hosted page = %d\n%s", p.Status, p.Body)
		}
		form := url.Values{"csrf_token": {field(b.t, csrfRE, p.Body)}, "request": {field(b.t, requestRE, p.Body)},
			"email": {email}, "password": {userPassword}}
		if signUp {
			form.Set("first_name", "Test")
		}
		p = b.do("POST", resolve(authURL, field(b.t, actionRE, p.Body)), form)
		if p.Status != http.StatusSeeOther {
			b.t.Fatalf("hosted form = %d\n%s", p.Status, p.Body)
		}
		// A new account verifies its email with an emailed code first.
		if strings.Contains(p.Location, "/verify-email") {
			loc := resolve(authURL, p.Location)
			p = b.do("GET", loc, nil)
			if p.Status != 200 {
				b.t.Fatalf("verification page = %d\n%s", p.Status, p.Body)
			}
			form := url.Values{"csrf_token": {field(b.t, csrfRE, p.Body)}, "request": {field(b.t, requestRE, p.Body)},
				"verification": {field(b.t, verificationRE, p.Body)}, "code": {b.ts.lastCode(b.t, email)}}
			p = b.do("POST", resolve(loc, field(b.t, actionRE, p.Body)), form)
			if p.Status != http.StatusSeeOther {
				b.t.Fatalf("verification submit = %d\n%s", p.Status, p.Body)
			}
		}
	}
	u, err := url.Parse(p.Location)
	if err != nil || u.Scheme+"://"+u.Host+u.Path != callback {
		b.t.Fatalf("back to the app at %q", p.Location)
	}
	return u
}

// waitUntil sleeps until t has passed (by at least 50 ms).
func waitUntil(tm time.Time) {
	time.Sleep(time.Until(tm) + 50*time.Millisecond)
}
