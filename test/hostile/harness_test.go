package hostile

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for snapshots
	_ "modernc.org/sqlite"             // database/sql driver "sqlite", for snapshots

	"github.com/gatehouse/gatehouse/internal/adminauth"
	"github.com/gatehouse/gatehouse/internal/authflow"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/redirecturi"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/sqlite/sqlitetest"
	"github.com/gatehouse/gatehouse/internal/users"
)

// cheapHasher keeps tests fast; production parameters are tested in package password.
var cheapHasher = password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0)

// The app registered in the test environment.
const (
	callback       = "http://localhost:3000/callback"
	appCallback    = "https://app.example.com/callback"
	tenantCallback = "https://*.tenants.example.com/callback"
	signOutHome    = "http://localhost:3000/"
	goodbye        = "https://app.example.com/goodbye"
	signInEndpoint = "http://localhost:3000/login"

	adaEmail      = "ada@example.com"
	adaPassword   = "correct horse battery staple"
	bobEmail      = "bob@example.com" // unverified; the target of PUT, DELETE and email routes
	adminEmail    = "root@example.com"
	adminPassword = "admin horse battery staple"
	nobody        = "nobody@example.com"
)

// csrf is the double-submit token the suite sends as cookie and field.
var csrf = strings.Repeat("c", 43)

// The limits cmd/gatehouse/serve.go gives its http.Server.
const (
	maxHeaderBytes    = 64 << 10
	readHeaderTimeout = 10 * time.Second
)

type testServer struct {
	URL, Addr string
	Backend   string
	Srv       *server.Server
	Store     store.Store
	Env       *store.Environment
	Key       string
	Ada, Bob  *store.User
	Admin     *store.Admin
	db        *sql.DB // a second connection for snapshots and clearing throttles
	logs      *logBuffer
}

// backends runs fn against a real server on each backend: SQLite always,
// PostgreSQL when GATEHOUSE_TEST_POSTGRES_URL is set.
func backends(t *testing.T, fn func(t *testing.T, ts *testServer)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "g.db")
		db := sqlitetest.Open(t, path)
		raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		raw.SetMaxOpenConns(1)
		t.Cleanup(func() { raw.Close() })
		fn(t, start(t, db, raw, "sqlite"))
	})
	t.Run("postgres", func(t *testing.T) {
		u := pgtest.NewURL(t)
		db := pgtest.Open(t, u)
		raw, err := sql.Open("pgx", u)
		if err != nil {
			t.Fatal(err)
		}
		raw.SetMaxOpenConns(2)
		t.Cleanup(func() { raw.Close() })
		fn(t, start(t, db, raw, "postgres"))
	})
}

// logBuffer keeps the server's log lines at WARN and above.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		b.lines = append(b.lines, l)
	}
	return len(p), nil
}

// errors returns the ERROR lines logged since mark, and the new mark.
func (b *logBuffer) errorsSince(mark int) ([]string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range b.lines[mark:] {
		if strings.Contains(l, "level=ERROR") {
			out = append(out, l)
		}
	}
	return out, len(b.lines)
}

func (b *logBuffer) mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.lines)
}

// start runs the server as `gatehouse serve` does (same http.Server
// limits) on a loopback port, with an environment, an API key, the app's
// redirect URIs, two users and an admin.
func start(t *testing.T, st store.Store, raw *sql.DB, backend string) *testServer {
	t.Helper()
	ctx := t.Context()
	k, _ := secretbox.ParseKey(secretbox.GenerateKey())
	box, err := secretbox.New(k)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	srv := server.New(server.Deps{Store: st, Logger: logger, Hasher: cheapHasher, Box: box, BaseURL: base})
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	env, err := srv.Environments.Create(ctx, "Test", store.Development)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := srv.Environments.CreateAPIKey(ctx, env, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		kind store.RedirectKind
		uri  string
		def  bool
	}{
		{store.RedirectURI, callback, true}, {store.RedirectURI, appCallback, false}, {store.RedirectURI, tenantCallback, false},
		{store.SignOutRedirect, signOutHome, true}, {store.SignOutRedirect, goodbye, false},
	} {
		if _, err := srv.Environments.AddRedirect(ctx, env, r.kind, r.uri, r.def); err != nil {
			t.Fatalf("add %s: %v", r.uri, err)
		}
	}
	if env, err = srv.Environments.SetSignInEndpoint(ctx, env, signInEndpoint); err != nil {
		t.Fatal(err)
	}
	pw := adaPassword
	first := "Ada"
	ada, err := srv.Users.Create(ctx, env.ID, users.CreateInput{Email: adaEmail, Password: &pw, EmailVerified: true, FirstName: &first})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := srv.Users.Create(ctx, env.ID, users.CreateInput{Email: bobEmail, Password: &pw})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := srv.Admin.Create(ctx, adminEmail)
	if err != nil {
		t.Fatal(err)
	}
	link, err := srv.Admin.IssueSetupLink(ctx, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Admin.SetupWithLink(ctx, link[strings.LastIndexByte(link, '/')+1:], adminPassword, adminauth.Client{}); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{URL: base, Addr: ln.Addr().String(), Backend: backend, Srv: srv, Store: st, Env: env, Key: key,
		Ada: ada, Bob: bob, Admin: admin, db: raw, logs: logs}
	// Warm up: signing keys exist, and Ada can sign in.
	if r := ts.passwordGrant(t, adaEmail, adaPassword, "198.51.100.1"); r.Status != 200 {
		t.Fatalf("warm-up sign-in: %d %s", r.Status, r.Body)
	}
	return ts
}

// ---- Raw HTTP ----

// request is one HTTP/1.1 request written byte for byte.
type request struct {
	Method string
	Target string      // the request target, sent exactly as is
	Header [][2]string // sent exactly as is, in order
	Body   []byte
}

// result is what came back: a response, or a connection closed without one.
type result struct {
	Status int
	Header http.Header
	Body   []byte
	Closed bool  // no (complete) response: the server hung up
	Err    error // why, when Closed
}

func (r result) String() string {
	if r.Closed {
		return fmt.Sprintf("connection closed without a response (%v)", r.Err)
	}
	return fmt.Sprintf("%d %s", r.Status, clip(strings.Join(strings.Fields(string(r.Body)), " "), 300))
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + fmt.Sprintf("…(%d bytes)", len(s))
	}
	return s
}

// send writes req on a new connection and reads one response. The request
// is written while the response is read, so a server that answers early
// (413, 431) and hangs up is seen answering.
func (ts *testServer) send(t *testing.T, req request) result {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", req.Method, req.Target, ts.Addr)
	for _, h := range req.Header {
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	if req.Body != nil || req.Method == "POST" || req.Method == "PUT" {
		b.WriteString("Content-Length: " + strconv.Itoa(len(req.Body)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(req.Body)
	conn, err := net.DialTimeout("tcp", ts.Addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		conn.Write(b.Bytes())
	}()
	defer func() { conn.Close(); <-wrote }()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return result{Closed: true, Err: err}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return result{Closed: true, Err: fmt.Errorf("reading the body: %w", err)}
	}
	return result{Status: res.StatusCode, Header: res.Header, Body: body}
}

// jsonBody decodes a result's body as a JSON object (nil if it is not one).
func (r result) jsonBody() map[string]any {
	var m map[string]any
	if json.Unmarshal(r.Body, &m) != nil {
		return nil
	}
	return m
}

// passwordGrant signs in through the API as a server-side SDK does, on
// behalf of a browser at ip (so the suite's own failures on 127.0.0.1 do
// not throttle it).
func (ts *testServer) passwordGrant(t *testing.T, email, pw, ip string) result {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"grant_type": "password", "client_id": ts.Env.ClientID, "client_secret": ts.Key,
		"email": email, "password": pw, "ip_address": ip})
	return ts.send(t, request{Method: "POST", Target: "/user_management/authenticate",
		Header: [][2]string{{"Content-Type", "application/json"}}, Body: body})
}

// liveSession signs Ada in through the API and returns the session ID.
func (ts *testServer) liveSession(t *testing.T) string {
	t.Helper()
	r := ts.passwordGrant(t, adaEmail, adaPassword, "198.51.100.2")
	if r.Status != 200 {
		t.Fatalf("sign-in for a session: %s", r)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(r.Body, &body)
	parts := strings.Split(body.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q", body.AccessToken)
	}
	claims, _ := decodeSegment(parts[1])
	var c struct {
		SID string `json:"sid"`
	}
	json.Unmarshal(claims, &c)
	if c.SID == "" {
		t.Fatalf("no sid in %s", claims)
	}
	return c.SID
}

// pendingRequest starts an authorization request as the app would.
func (ts *testServer) pendingRequest(t *testing.T) string {
	t.Helper()
	_, req, err := ts.Srv.Flow.CheckAuthorization(t.Context(), authflow.AuthorizeParams{ClientID: ts.Env.ClientID,
		RedirectURI: callback, ResponseType: "code", Provider: "authkit", State: "s", HasState: true})
	if err == nil {
		err = ts.Srv.Flow.SaveAuthorization(t.Context(), req)
	}
	if err != nil {
		t.Fatal(err)
	}
	return req.ID
}

// ---- Snapshots: nothing stored ----

// snapshot holds row counts of every table, live sessions, and checksums
// of the tables no hostile request may change.
type snapshot map[string]string

var checksummed = []string{"users", "environments", "redirects", "admins", "settings"}

func (ts *testServer) tables(t *testing.T) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if ts.Backend == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := ts.db.QueryContext(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (ts *testServer) snapshot(t *testing.T) snapshot {
	t.Helper()
	ctx := t.Context()
	s := snapshot{}
	for _, tbl := range ts.tables(t) {
		var n int64
		if err := ts.db.QueryRowContext(ctx, "SELECT count(*) FROM "+tbl).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", tbl, err)
		}
		s[tbl] = strconv.FormatInt(n, 10)
	}
	for _, tbl := range []string{"sessions", "browser_sessions", "admin_sessions"} {
		var n int64
		if err := ts.db.QueryRowContext(ctx, "SELECT count(*) FROM "+tbl+" WHERE ended_at IS NULL").Scan(&n); err != nil {
			t.Fatalf("count live %s: %v", tbl, err)
		}
		s[tbl+".live"] = strconv.FormatInt(n, 10)
	}
	for _, tbl := range checksummed {
		s[tbl+".sum"] = ts.checksum(t, tbl)
	}
	return s
}

func (ts *testServer) checksum(t *testing.T, tbl string) string {
	t.Helper()
	rows, err := ts.db.QueryContext(t.Context(), "SELECT * FROM "+tbl+" ORDER BY 1")
	if err != nil {
		t.Fatalf("read %s: %v", tbl, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	h := sha256.New()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("scan %s: %v", tbl, err)
		}
		for i, v := range vals {
			if tbl == "users" && cols[i] == "last_sign_in_at" {
				continue // Ada signs in between cases to get sessions for logout
			}
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			fmt.Fprintf(h, "%v\x00", v)
		}
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// changed lists what differs between two snapshots, except allowed keys.
func changed(before, after snapshot, allowed map[string]bool) []string {
	var out []string
	for k, v := range after {
		if before[k] != v && !allowed[k] {
			out = append(out, fmt.Sprintf("%s %s→%s", k, before[k], v))
		}
	}
	sort.Strings(out)
	return out
}

// clearThrottles forgets every failure counter, so that the suite's many
// failures from 127.0.0.1 do not turn later cases into plain 429s.
func (ts *testServer) clearThrottles(t *testing.T) {
	t.Helper()
	if _, err := ts.db.ExecContext(t.Context(), "DELETE FROM throttles"); err != nil {
		t.Fatalf("clear throttles: %v", err)
	}
}

// ---- What a safe response looks like ----

// registered are the absolute URIs a Location may point at (without query).
var registered = []string{callback, appCallback, tenantCallback, signOutHome, goodbye, signInEndpoint}

// locationProblem reports why loc is not a safe redirect target: a path on
// this server, or one of the app's registered URIs, by both Go's and a
// browser's reading of it.
func locationProblem(loc string) string {
	if loc == "" {
		return ""
	}
	for _, c := range loc {
		if c < 0x21 || c == 0x7f || c == '\\' || c > 0x7e {
			return fmt.Sprintf("Location %q holds a control, space, backslash or non-ASCII character", loc)
		}
	}
	if strings.HasPrefix(loc, "/") {
		if strings.HasPrefix(loc, "//") {
			return fmt.Sprintf("Location %q is protocol-relative", loc)
		}
		return ""
	}
	u, err := url.Parse(loc)
	if err != nil {
		return fmt.Sprintf("Location %q does not parse: %v", loc, err)
	}
	if u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return fmt.Sprintf("Location %q has userinfo, a fragment or an opaque part", loc)
	}
	// A browser's reading of the authority: up to the first / ? #.
	rest, ok := strings.CutPrefix(strings.ToLower(loc), u.Scheme+"://")
	if !ok {
		return fmt.Sprintf("Location %q is not scheme://authority", loc)
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if strings.Contains(rest, "@") || !strings.EqualFold(rest, u.Host) {
		return fmt.Sprintf("Location %q: a browser would go to host %q, Go reads %q", loc, rest, u.Host)
	}
	base := u.Scheme + "://" + u.Host + u.EscapedPath()
	for _, r := range registered {
		if redirecturi.Match(r, base) {
			return ""
		}
	}
	return fmt.Sprintf("Location %q is outside the registered URIs", loc)
}

// headerProblems reports injected headers and cookies this server does
// not set.
func (ts *testServer) headerProblems(r result) []string {
	var out []string
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "injected") {
			out = append(out, fmt.Sprintf("injected header %s: %q", k, vs))
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				out = append(out, fmt.Sprintf("header %s carries CR/LF/NUL: %q", k, v))
			}
		}
	}
	for _, c := range r.Header.Values("Set-Cookie") {
		name, _, _ := strings.Cut(c, "=")
		switch name {
		case "gh_csrf", "gh_admin", "gh_admin_csrf", "gh_" + ts.Env.ID:
		default:
			out = append(out, fmt.Sprintf("unexpected cookie %q", c))
		}
		if strings.Contains(strings.ToLower(c), "injected") {
			out = append(out, fmt.Sprintf("injected cookie attribute: %q", c))
		}
	}
	if p := locationProblem(r.Header.Get("Location")); p != "" {
		out = append(out, p)
	}
	return out
}

// randomRun matches random tokens (CSRF values, IDs), which may contain
// any short word by chance ("pgx" turned up in a CSRF token once).
var randomRun = regexp.MustCompile(`[A-Za-z0-9_-]{16,}`)

// leaks reports internals in a response body.
func leaks(body []byte) string {
	body = randomRun.ReplaceAll(body, nil)
	for _, s := range []string{"goroutine ", ".go:", "SQLSTATE", "sql: ", "sqlite", "pgx", "syntax error", "panic"} {
		if bytes.Contains(body, []byte(s)) {
			return s
		}
	}
	return ""
}

// healthy checks the server still answers and still signs Ada in.
func (ts *testServer) healthy(t *testing.T) {
	t.Helper()
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := ts.send(t, request{Method: "GET", Target: p}); r.Status != 200 {
			t.Errorf("GET %s after the hostile cases: %s", p, r)
		}
	}
	if r := ts.passwordGrant(t, adaEmail, adaPassword, "198.51.100.3"); r.Status != 200 {
		t.Errorf("Ada cannot sign in after the hostile cases: %s", r)
	}
	r := ts.send(t, request{Method: "GET", Target: "/user_management/users?email=" + url.QueryEscape(adaEmail),
		Header: [][2]string{{"Authorization", "Bearer " + ts.Key}}})
	var list struct {
		Data []struct {
			ID, Email string
		}
	}
	if json.Unmarshal(r.Body, &list) != nil || len(list.Data) != 1 || list.Data[0].ID != ts.Ada.ID {
		t.Errorf("looking Ada up by email after the hostile cases: %s", r)
	}
}

func decodeSegment(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	return base64.RawURLEncoding.DecodeString(s)
}
