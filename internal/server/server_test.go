package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/store/sqlite/sqlitetest"
	"github.com/gatehouse/gatehouse/internal/store/storecache"
)

// cheapHasher keeps tests fast; production parameters are tested in package password.
var cheapHasher = password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0)

type testServer struct {
	URL    string
	Key    string
	Srv    *server.Server
	Store  store.Store
	EnvID  string
	Env    *store.Environment
	client *http.Client
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

func newBox(t testing.TB) *secretbox.Box {
	k, _ := secretbox.ParseKey(secretbox.GenerateKey())
	b, err := secretbox.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func start(t *testing.T, st store.Store) *testServer {
	t.Helper()
	return startWith(t, st, nil)
}

// startWith starts a server whose clock is now (nil: the real clock).
func startWith(t *testing.T, st store.Store, now func() time.Time) *testServer {
	t.Helper()
	return startDeps(t, st, func(d *server.Deps) { d.Now = now })
}

// startDeps starts a server with the test dependencies as set changes
// them.
func startDeps(t *testing.T, st store.Store, set func(*server.Deps)) *testServer {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	hs := httptest.NewUnstartedServer(nil)
	d := server.Deps{Store: st, Logger: logger, Hasher: cheapHasher, Box: newBox(t), BaseURL: "http://" + hs.Listener.Addr().String()}
	set(&d)
	srv := server.New(d)
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
	return &testServer{URL: hs.URL, Key: key, Srv: srv, Store: st, EnvID: env.ID, Env: env, client: hs.Client()}
}

type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// do sends a request with the test key (unless headers override it).
func (ts *testServer) do(t *testing.T, method, path, body string, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(t.Context(), method, ts.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+ts.Key)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	res, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := response{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %q", method, path, raw)
		}
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" && !strings.HasPrefix(path, "/metrics") {
		t.Errorf("%s %s: Content-Type = %q", method, path, ct)
	}
	if res.Header.Get("X-Request-ID") == "" {
		t.Errorf("%s %s: no X-Request-ID", method, path)
	}
	return r
}

func (r response) want(t *testing.T, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Raw)
	}
	if code != "" && r.Body["code"] != code {
		t.Fatalf("code = %v, want %s; body %s", r.Body["code"], code, r.Raw)
	}
	if status >= 400 {
		if msg, _ := r.Body["message"].(string); msg == "" {
			t.Fatalf("error without a message: %s", r.Raw)
		}
	}
}

func TestUsersAPI(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		r := ts.do(t, "POST", "/user_management/users", `{"email":" Grace@Example.COM ","password":"a long enough passphrase","first_name":"Grace","last_name":"Hopper","external_id":"g-1","metadata":{"team":"navy"},"email_verified":true,"ip_address":"1.2.3.4","some_future_field":{"x":1}}`)
		r.want(t, 201, "")
		id := r.Body["id"].(string)
		if r.Body["email"] != "grace@example.com" || r.Body["object"] != "user" || r.Body["email_verified"] != true || r.Body["last_sign_in_at"] != nil {
			t.Fatalf("created user = %s", r.Raw)
		}
		if strings.Contains(r.Raw, "password") || strings.Contains(r.Raw, "argon2") {
			t.Fatalf("response leaks the password hash: %s", r.Raw)
		}
		created := r.Body["created_at"].(string)
		if len(created) != len("2006-01-02T15:04:05.000Z") || !strings.HasSuffix(created, "Z") {
			t.Errorf("created_at = %q, want ISO 8601 UTC with milliseconds", created)
		}
		u, err := ts.Store.GetUser(t.Context(), ts.EnvID, id)
		if err != nil || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			t.Fatalf("stored hash = %q, %v", u.PasswordHash, err)
		}

		ts.do(t, "GET", "/user_management/users/"+id, "").want(t, 200, "")
		r = ts.do(t, "GET", "/user_management/users/external_id/g-1", "")
		r.want(t, 200, "")
		if r.Body["id"] != id {
			t.Fatalf("by external id = %s", r.Raw)
		}
		ts.do(t, "GET", "/user_management/users/user_missing", "").want(t, 404, "entity_not_found")
		ts.do(t, "GET", "/user_management/users/external_id/nope", "").want(t, 404, "entity_not_found")

		// Duplicate email, differently cased: 409.
		ts.do(t, "POST", "/user_management/users", `{"email":"GRACE@example.com"}`).want(t, 409, "user_already_exists")
		ts.do(t, "POST", "/user_management/users", `{"email":"other@example.com","external_id":"g-1"}`).want(t, 409, "external_id_already_exists")

		// Update: metadata null deletes, names clear, password changes.
		r = ts.do(t, "PUT", "/user_management/users/"+id, `{"first_name":"Amazing Grace","last_name":null,"metadata":{"team":null,"rank":"admiral"},"password":"another fine passphrase"}`)
		r.want(t, 200, "")
		if r.Body["first_name"] != "Amazing Grace" || r.Body["last_name"] != nil {
			t.Fatalf("after update = %s", r.Raw)
		}
		if m := r.Body["metadata"].(map[string]any); len(m) != 1 || m["rank"] != "admiral" {
			t.Fatalf("metadata = %v", m)
		}
		u2, _ := ts.Store.GetUser(t.Context(), ts.EnvID, id)
		if u2.PasswordHash == u.PasswordHash {
			t.Fatal("password update did not change the hash")
		}
		// An empty body is {} and changes nothing.
		r = ts.do(t, "PUT", "/user_management/users/"+id, "")
		r.want(t, 200, "")
		// Changing the email resets verification.
		r = ts.do(t, "PUT", "/user_management/users/"+id, `{"email":"grace@navy.mil"}`)
		r.want(t, 200, "")
		if r.Body["email_verified"] != false {
			t.Errorf("email change kept email_verified: %s", r.Raw)
		}

		// Delete.
		r = ts.do(t, "DELETE", "/user_management/users/"+id, "")
		if r.Status != 200 && r.Status != 204 {
			t.Fatalf("delete = %d %s", r.Status, r.Raw)
		}
		ts.do(t, "GET", "/user_management/users/"+id, "").want(t, 404, "")
		ts.do(t, "DELETE", "/user_management/users/"+id, "").want(t, 404, "")
	})
}

func TestUsersListAPI(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		var created []string
		for i := range 12 {
			r := ts.do(t, "POST", "/user_management/users", `{"email":"u`+string(rune('a'+i))+`@example.com"}`)
			r.want(t, 201, "")
			created = append(created, r.Body["id"].(string))
		}
		var seen []string
		path := "/user_management/users?limit=5&order=asc"
		for page := 0; ; page++ {
			r := ts.do(t, "GET", path, "")
			r.want(t, 200, "")
			if r.Body["object"] != "list" {
				t.Fatalf("list = %s", r.Raw)
			}
			for _, d := range r.Body["data"].([]any) {
				seen = append(seen, d.(map[string]any)["id"].(string))
			}
			meta := r.Body["list_metadata"].(map[string]any)
			if _, ok := meta["after"]; !ok {
				t.Fatalf("list_metadata has no after key: %s", r.Raw)
			}
			if meta["after"] == nil {
				if page != 2 {
					t.Fatalf("ended after %d pages", page+1)
				}
				break
			}
			path = "/user_management/users?limit=5&order=asc&after=" + meta["after"].(string)
		}
		if strings.Join(seen, ",") != strings.Join(created, ",") {
			t.Fatalf("walked %v, want %v", seen, created)
		}
		r := ts.do(t, "GET", "/user_management/users?email=UC@example.com", "")
		if data := r.Body["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != created[2] {
			t.Fatalf("email filter = %s", r.Raw)
		}
		r = ts.do(t, "GET", "/user_management/users?email=not-an-email", "")
		r.want(t, 200, "")
		if data := r.Body["data"].([]any); len(data) != 0 {
			t.Fatalf("invalid email filter matched: %s", r.Raw)
		}
		for _, q := range []string{"limit=0", "limit=101", "limit=ten", "order=sideways", "before=a&after=b"} {
			ts.do(t, "GET", "/user_management/users?"+q, "").want(t, 422, "invalid_request_parameters")
		}
	})
}

func TestBadInput(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		r := ts.do(t, "POST", "/user_management/users", `{"email":"keep@example.com","first_name":"Keep"}`)
		r.want(t, 201, "")
		id := r.Body["id"].(string)
		before := ts.do(t, "GET", "/user_management/users/"+id, "").Raw

		cases := []struct {
			name, method, path, body string
			headers                  []string
			status                   int
			code                     string
		}{
			{"no key", "GET", "/user_management/users", "", []string{"Authorization", ""}, 401, ""},
			{"wrong key", "GET", "/user_management/users", "", []string{"Authorization", "Bearer sk_test_nope"}, 401, ""},
			{"not bearer", "GET", "/user_management/users", "", []string{"Authorization", "Basic Zm9vOmJhcg=="}, 401, ""},
			{"malformed json", "POST", "/user_management/users", `{"email":`, nil, 400, "invalid_json"},
			{"not an object", "POST", "/user_management/users", `["a"]`, nil, 400, "invalid_json"},
			{"trailing data", "POST", "/user_management/users", `{"email":"x@example.com"} {}`, nil, 400, "invalid_json"},
			{"wrong type", "POST", "/user_management/users", `{"email":42}`, nil, 422, "invalid_request_parameters"},
			{"wrong metadata type", "POST", "/user_management/users", `{"email":"m@example.com","metadata":{"n":1}}`, nil, 422, "invalid_request_parameters"},
			{"empty create", "POST", "/user_management/users", ``, nil, 422, "invalid_request_parameters"},
			{"invalid email", "POST", "/user_management/users", `{"email":"not an email"}`, nil, 422, "invalid_request_parameters"},
			{"display name email", "POST", "/user_management/users", `{"email":"Eve <eve@example.com>"}`, nil, 422, "invalid_request_parameters"},
			{"short password", "POST", "/user_management/users", `{"email":"p@example.com","password":"short"}`, nil, 422, "invalid_request_parameters"},
			{"common password", "POST", "/user_management/users", `{"email":"p@example.com","password":"password123"}`, nil, 422, "invalid_request_parameters"},
			{"long name", "POST", "/user_management/users", `{"email":"n@example.com","first_name":"` + strings.Repeat("x", 300) + `"}`, nil, 422, "invalid_request_parameters"},
			{"bad hash type", "POST", "/user_management/users", `{"email":"h@example.com","password_hash":"x","password_hash_type":"md5"}`, nil, 422, "invalid_request_parameters"},
			{"bad bcrypt", "POST", "/user_management/users", `{"email":"h@example.com","password_hash":"$2b$10$short","password_hash_type":"bcrypt"}`, nil, 422, "invalid_request_parameters"},
			{"form post", "POST", "/user_management/users", `email=x@example.com`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
			{"text plain", "POST", "/user_management/users", `{"email":"x@example.com"}`, []string{"Content-Type", "text/plain"}, 415, ""},
			{"too large", "POST", "/user_management/users", `{"email":"big@example.com","first_name":"` + strings.Repeat("x", 300<<10) + `"}`, nil, 413, "request_too_large"},
			{"update wrong type", "PUT", "/user_management/users/" + id, `{"first_name":["Keep"]}`, nil, 422, ""},
			{"update null email", "PUT", "/user_management/users/" + id, `{"email":null,"first_name":"Changed"}`, nil, 422, ""},
			{"update bad metadata", "PUT", "/user_management/users/" + id, `{"metadata":{"":"x"},"first_name":"Changed"}`, nil, 422, ""},
			{"update too many keys", "PUT", "/user_management/users/" + id, `{"metadata":{"a":"1","b":"1","c":"1","d":"1","e":"1","f":"1","g":"1","h":"1","i":"1","j":"1","k":"1"},"first_name":"Changed"}`, nil, 422, ""},
			{"update missing user", "PUT", "/user_management/users/user_missing", `{"first_name":"x"}`, nil, 404, ""},
			{"unknown route", "GET", "/user_management/nope", "", nil, 404, "not_found"},
			{"wrong method", "PATCH", "/user_management/users", "", nil, 405, "method_not_allowed"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := ts.do(t, tc.method, tc.path, tc.body, tc.headers...)
				r.want(t, tc.status, tc.code)
				if strings.Contains(r.Raw, "goroutine") || strings.Contains(r.Raw, ".go:") {
					t.Fatalf("response leaks internals: %s", r.Raw)
				}
				if tc.status == 422 && len(r.Body["errors"].([]any)) == 0 {
					t.Fatalf("422 without errors[]: %s", r.Raw)
				}
			})
		}
		if after := ts.do(t, "GET", "/user_management/users/"+id, "").Raw; after != before {
			t.Fatalf("bad requests changed the user:\nbefore %s\nafter  %s", before, after)
		}
		// Nothing but the one good user was created.
		r = ts.do(t, "GET", "/user_management/users?limit=100", "")
		if n := len(r.Body["data"].([]any)); n != 1 {
			t.Fatalf("%d users exist after bad requests, want 1", n)
		}
	})
}

// The token endpoint refuses a body it cannot read in the OAuth shape,
// whether the body is JSON or a form, including the refusals made before
// any handler runs.
func TestAuthenticateRefusalsInOAuthShape(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		const form = "application/x-www-form-urlencoded"
		big := strings.Repeat("x", 300<<10)
		const path = "/user_management/authenticate"
		cases := []struct {
			name, path, body, contentType string
			status                        int
		}{
			{"form too large", path, "grant_type=password&pad=" + big, form, 413},
			{"form NUL", path, "grant_type=password&email=a%00b%40example.com&password=x", form, 400},
			{"form invalid UTF-8", path, "grant_type=password&email=%FF%FE%40example.com&password=x", form, 400},
			{"form malformed", path, "grant_type=password&email=%zz", form, 400},
			{"query NUL", path + "?x=%00", "", "", 400},
			{"JSON too large", path, `{"grant_type":"password","pad":"` + big + `"}`, "application/json", 413},
			{"JSON NUL", path, `{"grant_type":"password","email":"a\u0000b@example.com"}`, "application/json", 400},
			{"JSON invalid UTF-8", path, "{\"grant_type\":\"password\",\"email\":\"\xff@example.com\"}", "application/json", 400},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := ts.do(t, "POST", tc.path, tc.body, "Content-Type", tc.contentType)
				if r.Status != tc.status {
					t.Fatalf("status = %d, want %d; body %s", r.Status, tc.status, r.Raw)
				}
				if r.Body["error"] != "invalid_request" || r.Body["error_description"] == "" || r.Body["code"] != nil {
					t.Fatalf("body = %s, want the OAuth shape {error: invalid_request, error_description}", r.Raw)
				}
			})
		}
	})
}

func TestAPIKeyScopeAndRevocation(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		r := ts.do(t, "POST", "/user_management/users", `{"email":"mine@example.com"}`)
		r.want(t, 201, "")
		id := r.Body["id"].(string)
		other, _ := ts.Srv.Environments.Create(t.Context(), "Other", store.Production)
		otherKey, key, err := ts.Srv.Environments.CreateAPIKey(t.Context(), other, "")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(otherKey, "sk_live_") {
			t.Errorf("production key = %q, want sk_live_ prefix", otherKey[:8])
		}
		auth := []string{"Authorization", "Bearer " + otherKey}
		ts.do(t, "GET", "/user_management/users/"+id, "", auth...).want(t, 404, "")
		ts.do(t, "DELETE", "/user_management/users/"+id, "", auth...).want(t, 404, "")
		r = ts.do(t, "GET", "/user_management/users", "", auth...)
		if len(r.Body["data"].([]any)) != 0 {
			t.Fatalf("other environment lists our users: %s", r.Raw)
		}
		if err := ts.Srv.Environments.RevokeAPIKey(t.Context(), other, key.ID); err != nil {
			t.Fatal(err)
		}
		ts.do(t, "GET", "/user_management/users", "", auth...).want(t, 401, "")
	})
}

func TestImportedHashes(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		bcryptHash := "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
		body, _ := json.Marshal(map[string]any{"email": "imported@example.com", "password_hash": bcryptHash, "password_hash_type": "bcrypt"})
		r := ts.do(t, "POST", "/user_management/users", string(body))
		r.want(t, 201, "")
		u, _ := ts.Store.GetUser(t.Context(), ts.EnvID, r.Body["id"].(string))
		if u.PasswordHash != bcryptHash {
			t.Fatalf("stored hash = %q", u.PasswordHash)
		}
	})
}

func TestOperations(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		ts.do(t, "GET", "/healthz", "").want(t, 200, "")
		r := ts.do(t, "GET", "/readyz", "")
		r.want(t, 200, "")
		ts.do(t, "GET", "/user_management/users", "").want(t, 200, "")
		res, err := http.Get(ts.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if !bytes.Contains(b, []byte(`gatehouse_http_requests_total{code="200",method="GET",route="GET /user_management/users"} 1`)) {
			t.Fatalf("metrics lack the users route:\n%s", b)
		}
		if !bytes.Contains(b, []byte(`gatehouse_http_request_duration_seconds_bucket{method="GET",route="GET /user_management/users"`)) {
			t.Fatal("metrics lack latency histograms")
		}
		for _, m := range []string{"gatehouse_email_sent_total", "gatehouse_email_retried_total", "gatehouse_email_failed_total", "gatehouse_rs256_fallbacks_total 0"} {
			if !bytes.Contains(b, []byte(m)) {
				t.Errorf("metrics lack %s", m)
			}
		}
		// SQLite's group commit and log are measured; PostgreSQL has neither.
		for _, m := range []string{"gatehouse_sqlite_commits_total", "gatehouse_sqlite_wal_frames"} {
			if has, want := bytes.Contains(b, []byte("\n"+m+" ")), ts.Store.Backend() == "sqlite"; has != want {
				t.Errorf("%s: %s exported = %v, want %v", ts.Store.Backend(), m, has, want)
			}
		}
		// Password hashing is counted, with the CPU time it took.
		hashes := metricValue(t, b, "gatehouse_password_hashes_total")
		ts.do(t, "POST", "/user_management/users", `{"email":"metrics@example.com","password":"walnut-Harbor-71-lantern"}`).want(t, 201, "")
		b = getMetrics(t, ts.URL)
		if n := metricValue(t, b, "gatehouse_password_hashes_total"); n != hashes+1 {
			t.Errorf("gatehouse_password_hashes_total went from %v to %v over one sign-up; want one more", hashes, n)
		}
		if runtime.GOOS == "linux" {
			if c := metricValue(t, b, "gatehouse_password_hash_cpu_seconds_total"); c <= 0 {
				t.Errorf("gatehouse_password_hash_cpu_seconds_total = %v after a hash", c)
			}
		}
		// A proxy's request ID is kept; a hostile one is replaced.
		r = ts.do(t, "GET", "/healthz", "", "X-Request-ID", "trace-abc-123")
		if r.Header.Get("X-Request-ID") != "trace-abc-123" {
			t.Errorf("X-Request-ID = %q", r.Header.Get("X-Request-ID"))
		}
		r = ts.do(t, "GET", "/healthz", "", "X-Request-ID", "bad id\"<script>")
		if strings.ContainsAny(r.Header.Get("X-Request-ID"), " \"<") {
			t.Errorf("hostile X-Request-ID echoed: %q", r.Header.Get("X-Request-ID"))
		}
	})
}

func TestReadyzWhenDatabaseClosed(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	ts := start(t, db)
	db.Close()
	r := ts.do(t, "GET", "/readyz", "")
	r.want(t, 503, "")
	// API calls fail cleanly, and the server keeps answering.
	r = ts.do(t, "GET", "/user_management/users", "")
	if r.Status < 500 || strings.Contains(r.Raw, "sql") {
		t.Fatalf("with the database closed: %d %s", r.Status, r.Raw)
	}
	ts.do(t, "GET", "/healthz", "").want(t, 200, "")
}

// On SQLite, behind the store cache as serve and dev run it, the metrics
// count the group commit's transactions and the writes they held, and
// give the write-ahead log's length.
func TestSQLiteCommitMetrics(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	ts := start(t, storecache.New(db, time.Minute))
	b := getMetrics(t, ts.URL)
	tx0, w0 := metricValue(t, b, "gatehouse_sqlite_commits_total"), metricValue(t, b, "gatehouse_sqlite_commit_writes_total")
	ts.do(t, "POST", "/user_management/users", `{"email":"commits@example.com","password":"walnut-Harbor-71-lantern","email_verified":true}`).want(t, 201, "")
	// A sign-in's session, refresh token and event are one transaction.
	ts.do(t, "POST", "/user_management/authenticate", fmt.Sprintf(`{"grant_type":"password","client_id":%q,"client_secret":%q,"email":"commits@example.com","password":"walnut-Harbor-71-lantern"}`,
		ts.Env.ClientID, ts.Key)).want(t, 200, "")
	b = getMetrics(t, ts.URL)
	tx1, w1 := metricValue(t, b, "gatehouse_sqlite_commits_total"), metricValue(t, b, "gatehouse_sqlite_commit_writes_total")
	if tx1 <= tx0 || w1 <= w0 {
		t.Errorf("over a sign-up and a sign-in, transactions went from %v to %v and writes from %v to %v; want both to grow", tx0, tx1, w0, w1)
	}
	if tx, w := db.CommitStats(); float64(tx) < tx1 || float64(w) < w1 || w < tx {
		t.Errorf("CommitStats = %d transactions, %d writes; the metrics said %v and %v", tx, w, tx1, w1)
	}
	// The log's length shows once a checkpoint round has run after them.
	deadline := time.Now().Add(5 * time.Second)
	for metricValue(t, getMetrics(t, ts.URL), "gatehouse_sqlite_wal_frames") <= 0 {
		if time.Now().After(deadline) {
			t.Fatal("gatehouse_sqlite_wal_frames still 0 five seconds after the writes")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getMetrics(t *testing.T, url string) []byte {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// metricValue is the value of an unlabelled metric in a Prometheus text
// exposition.
func metricValue(t *testing.T, exposition []byte, name string) float64 {
	t.Helper()
	for line := range strings.Lines(string(exposition)) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("metrics lack %s", name)
	return 0
}
