package admin_test

import (
	"html/template"
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

	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/sqlite/sqlitetest"
)

// cheapHasher keeps tests fast; production parameters are tested in package password.
var cheapHasher = password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0)

// fakeClock is a settable clock shared by the server's services.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

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

type testServer struct {
	URL   string
	Srv   *server.Server
	Store store.Store
	Env   *store.Environment
	Key   string // an API key of Env
	Clock *fakeClock
}

// backends runs fn against a real server on each backend: SQLite always,
// PostgreSQL when GATEHOUSE_TEST_POSTGRES_URL is set.
func backends(t *testing.T, fn func(t *testing.T, ts *testServer)) {
	t.Run("sqlite", func(t *testing.T) {
		db := sqlitetest.New(t)
		fn(t, start(t, db))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, start(t, pgtest.New(t)))
	})
}

// sqliteOnly runs fn on SQLite alone, for tests about the dashboard rather
// than the store.
func sqliteOnly(t *testing.T, fn func(t *testing.T, ts *testServer)) {
	db := sqlitetest.New(t)
	fn(t, start(t, db))
}

func start(t *testing.T, st store.Store) *testServer {
	t.Helper()
	k, _ := secretbox.ParseKey(secretbox.GenerateKey())
	box, err := secretbox.New(k)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Now()}
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	hs := httptest.NewUnstartedServer(nil)
	srv := server.New(server.Deps{Store: st, Logger: logger, Hasher: cheapHasher, Box: box,
		BaseURL: "http://" + hs.Listener.Addr().String(), Now: clock.Now})
	hs.Config.Handler = srv
	hs.Start()
	t.Cleanup(hs.Close)
	env, err := srv.Environments.Create(t.Context(), "Test", store.Development)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := srv.Environments.CreateAPIKey(t.Context(), env, "test")
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{URL: hs.URL, Srv: srv, Store: st, Env: env, Key: key, Clock: clock}
}

// page is one response as a browser sees it.
type page struct {
	Status   int
	Location string
	Body     string
	Header   http.Header
}

// browser is an HTTP client with cookies that does not follow redirects
// and remembers the CSRF token of the last page it loaded.
type browser struct {
	t      *testing.T
	ts     *testServer
	client *http.Client
	csrf   string
}

func newBrowser(t *testing.T, ts *testServer) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, ts: ts, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	p := page{Status: res.StatusCode, Location: res.Header.Get("Location"), Body: string(body), Header: res.Header}
	if m := csrfRE.FindStringSubmatch(p.Body); m != nil {
		b.csrf = m[1]
	}
	return p
}

func (b *browser) get(path string, headers ...string) page {
	b.t.Helper()
	if strings.HasPrefix(path, "/") {
		path = b.ts.URL + path
	}
	req, _ := http.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// post submits a form with the browser's current CSRF token (unless the
// form sets csrf_token itself).
func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, set := form["csrf_token"]; !set {
		form.Set("csrf_token", b.csrf)
	}
	req, _ := http.NewRequest("POST", b.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	return b.do(req)
}

// want fails the test unless the page has the given status.
func (p page) want(t *testing.T, status int) page {
	t.Helper()
	if p.Status != status {
		t.Fatalf("status = %d, want %d (Location %q)\n%s", p.Status, status, p.Location, p.Body)
	}
	return p
}

// contains fails the test unless the page body contains each string.
func (p page) contains(t *testing.T, want ...string) page {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(p.Body, w) {
			t.Fatalf("page lacks %q:\n%s", w, p.Body)
		}
	}
	return p
}

// envPath is the path of a page of the test environment.
func (ts *testServer) envPath(rest string) string { return "/admin/env/" + ts.Env.ID + "/" + rest }

// signedIn returns a browser signed in as a new admin through a one-time
// sign-in link.
func signedIn(t *testing.T, ts *testServer, email string) (*browser, *store.Admin) {
	t.Helper()
	a, err := ts.Srv.Admin.Create(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	link, err := ts.Srv.Admin.IssueSignInLink(t.Context(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, ts)
	p := b.get(link).want(t, http.StatusSeeOther)
	if p.Location != "/admin/" {
		t.Fatalf("after the link, Location = %q", p.Location)
	}
	b.get(ts.envPath("users")).want(t, http.StatusOK)
	return b, a
}

// escaped is s as html/template writes it in text.
func escaped(s string) string {
	var b strings.Builder
	template.Must(template.New("").Parse("{{.}}")).Execute(&b, s)
	return b.String()
}

// events returns an environment's events of one type.
func events(t *testing.T, ts *testServer, envID, typ string) []store.Event {
	t.Helper()
	p, err := ts.Store.ListEvents(t.Context(), envID, []string{typ}, store.ListParams{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return p.Data
}
