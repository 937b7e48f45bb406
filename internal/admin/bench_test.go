package admin_test

// The Users page with 100,000 users in one environment, over real HTTP with
// an admin session cookie: the first page, a page 50,000 users deep (keyset
// cursor), and searches. SQLite always; PostgreSQL when
// GATEHOUSE_TEST_POSTGRES_URL is set (see pgtest).
//
//	GATEHOUSE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test ./internal/admin/ -run '^$' -bench UsersPage -benchtime 3s
//
// Each backend's 100,000 users are inserted once per run of the parent
// benchmark (a few seconds), straight into the database in one transaction
// (SQLite: multi-row INSERTs; PostgreSQL: COPY, then ANALYZE as autovacuum
// would), with the lowercased search columns the backends write. The
// "ceiling" sub-benchmark serves the same page-1 HTML from a bare net/http
// handler, to separate the dashboard's cost from the HTTP round trip.

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/sqlite/sqlitetest"
)

const (
	benchUsers = 100_000
	// benchDeep is the position (1-based, in the list's newest-first
	// order) whose ID is the deep page's `after` cursor.
	benchDeep = 50_000
)

// benchUser is one generated row, in the columns both schemas share.
type benchUser struct {
	id, email, first, last string
	name                   *string
}

// benchRows makes n users with realistic names; the returned IDs ascend
// (ULIDs), so the list's newest-first order is the reverse.
func benchRows(n int) []benchUser {
	firsts := []string{"Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Mia", "James",
		"Charlotte", "William", "Ava", "Lucas", "Isabella", "Henry", "Evelyn", "Theodore", "Harper", "Jack",
		"Zoë", "Émile", "Søren", "Ingrid", "Mateo", "Aarav", "Yuki", "Chloé", "Björn", "Fatima"}
	lasts := []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
		"Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
		"Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
		"Müller", "Øberg", "Nakamura", "O'Brien", "Dubois", "Kowalski", "Ångström", "Rossi", "Novak", "Silva"}
	rng := rand.New(rand.NewPCG(5, 100_000))
	rows := make([]benchUser, n)
	for i := range rows {
		f, l := firsts[rng.IntN(len(firsts))], lasts[rng.IntN(len(lasts))]
		u := benchUser{id: ids.New("user"), first: f, last: l,
			email: strings.ToLower(fmt.Sprintf("%s.%s.%d@example.com", f, strings.ReplaceAll(l, "'", ""), i))}
		if i%3 == 0 {
			name := f + " " + l
			u.name = &name
		}
		rows[i] = u
	}
	return rows
}

func lowerPtr(s *string) any {
	if s == nil {
		return nil
	}
	return strings.ToLower(*s)
}

// benchInsertSQLite inserts rows into the SQLite file at path with its own
// connection: one transaction of multi-row INSERTs (500 rows, 9,000
// parameters each, under SQLite's 32,766).
func benchInsertSQLite(ctx context.Context, path, envID string, rows []benchUser) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	const cols = `id, environment_id, email, email_verified, first_name, last_name, name, metadata, password_hash,
		created_at, updated_at, first_name_lower, last_name_lower, name_lower`
	const perRow = 14
	now := time.Now().UnixMilli()
	for start := 0; start < len(rows); start += 500 {
		chunk := rows[start:min(start+500, len(rows))]
		var q strings.Builder
		q.WriteString("INSERT INTO users (" + cols + ") VALUES ")
		args := make([]any, 0, len(chunk)*perRow)
		for i, u := range chunk {
			if i > 0 {
				q.WriteString(",")
			}
			q.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
			args = append(args, u.id, envID, u.email, 1, u.first, u.last, u.name, "{}", "",
				now, now, strings.ToLower(u.first), strings.ToLower(u.last), lowerPtr(u.name))
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// benchInsertPostgres copies rows into the users table of the schema the
// URL names, then analyzes it.
func benchInsertPostgres(ctx context.Context, u, envID string, rows []benchUser) error {
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	now := time.Now()
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"users"},
		[]string{"id", "environment_id", "email", "email_verified", "first_name", "last_name", "name", "metadata", "password_hash",
			"created_at", "updated_at", "first_name_lower", "last_name_lower", "name_lower"},
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			r := rows[i]
			return []any{r.id, envID, r.email, true, r.first, r.last, r.name, "{}", "",
				now, now, strings.ToLower(r.first), strings.ToLower(r.last), lowerPtr(r.name)}, nil
		}))
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "ANALYZE users")
	return err
}

// benchSite is a running server with a big environment and a signed-in
// admin's cookie.
type benchSite struct {
	url    string
	env    *store.Environment
	cookie string
	client *http.Client
	rows   []benchUser
}

func newBenchSite(b *testing.B, st store.Store, insert func(ctx context.Context, envID string, rows []benchUser) error) *benchSite {
	b.Helper()
	ctx := b.Context()
	k, _ := secretbox.ParseKey(secretbox.GenerateKey())
	box, err := secretbox.New(k)
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	srv := server.New(server.Deps{Store: st, Box: box, BaseURL: "http://" + hs.Listener.Addr().String(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))})
	hs.Config.Handler = srv
	hs.Start()
	b.Cleanup(hs.Close)
	env, err := srv.Environments.Create(ctx, "Bench", store.Development)
	if err != nil {
		b.Fatal(err)
	}
	rows := benchRows(benchUsers)
	start := time.Now()
	if err := insert(ctx, env.ID, rows); err != nil {
		b.Fatalf("insert %d users: %v", len(rows), err)
	}
	b.Logf("%s: inserted %d users in %v", st.Backend(), len(rows), time.Since(start).Round(time.Millisecond))

	a, err := srv.Admin.Create(ctx, "bench@example.com")
	if err != nil {
		b.Fatal(err)
	}
	link, err := srv.Admin.IssueSignInLink(ctx, a.ID)
	if err != nil {
		b.Fatal(err)
	}
	client := hs.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Get(link)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	var cookie string
	for _, c := range res.Cookies() {
		if c.Name == "gh_admin" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if res.StatusCode != http.StatusSeeOther || cookie == "" {
		b.Fatalf("the sign-in link answered %s with no gh_admin cookie", res.Status)
	}
	return &benchSite{url: hs.URL, env: env, cookie: cookie, client: client, rows: rows}
}

// get fetches a dashboard page as the signed-in admin.
func (s *benchSite) get(b *testing.B, path string) []byte {
	req, _ := http.NewRequestWithContext(b.Context(), "GET", s.url+path, nil)
	req.Header.Set("Cookie", s.cookie)
	res, err := s.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		b.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %s\n%.500s", path, res.Status, body)
	}
	return body
}

var benchRowRE = regexp.MustCompile(`<tr data-user-id="(user_[0-9A-Z]+)">`)

// matches counts the users a search for the prefix q finds (email, first,
// last or full name, case-insensitively).
func (s *benchSite) matches(q string) int {
	n := 0
	for _, u := range s.rows {
		for _, f := range []string{u.email, u.first, u.last, benchDeref(u.name)} {
			if strings.HasPrefix(strings.ToLower(f), q) {
				n++
				break
			}
		}
	}
	return n
}

func benchDeref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// idAt returns the ID at a 1-based position of the newest-first list.
func (s *benchSite) idAt(pos int) string { return s.rows[len(s.rows)-pos].id }

// page benchmarks one dashboard URL after checking, once, that it lists
// the wanted rows (first ID and count; first "" skips that check).
func (s *benchSite) page(b *testing.B, path, first string, count int) {
	body := s.get(b, path)
	m := benchRowRE.FindAllSubmatch(body, -1)
	if len(m) != count || (first != "" && string(m[0][1]) != first) {
		got := ""
		if len(m) > 0 {
			got = string(m[0][1])
		}
		b.Fatalf("GET %s lists %d users starting %s, want %d starting %s", path, len(m), got, count, first)
	}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		s.get(b, path)
	}
}

func (s *benchSite) run(b *testing.B) {
	users := "/admin/env/" + url.PathEscape(s.env.ID) + "/users"
	one := s.rows[77_777].email
	for _, q := range []string{"smith", "a"} {
		b.Logf("%d of %d users match the search %q", s.matches(q), len(s.rows), q)
	}
	b.Run("page1", func(b *testing.B) { s.page(b, users, s.idAt(1), 50) })
	b.Run("deep", func(b *testing.B) {
		s.page(b, users+"?after="+url.QueryEscape(s.idAt(benchDeep)), s.idAt(benchDeep+1), 50)
	})
	b.Run("search_one", func(b *testing.B) { s.page(b, users+"?q="+url.QueryEscape(one), s.rows[77_777].id, 1) })
	b.Run("search_smith", func(b *testing.B) { s.page(b, users+"?q=smith", "", 50) })
	b.Run("search_a", func(b *testing.B) { s.page(b, users+"?q=a", "", 50) })
	b.Run("ceiling", func(b *testing.B) {
		html := s.get(b, users)
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(html)
		}))
		defer hs.Close()
		client := hs.Client()
		b.SetBytes(int64(len(html)))
		for b.Loop() {
			res, err := client.Get(hs.URL + "/")
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
}

func BenchmarkUsersPage(b *testing.B) {
	if testing.Short() {
		b.Skipf("%d-user benchmark skipped in -short mode", benchUsers)
	}
	b.Run("sqlite", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "g.db")
		db := sqlitetest.Open(b, path)
		newBenchSite(b, db, func(ctx context.Context, envID string, rows []benchUser) error {
			return benchInsertSQLite(ctx, path, envID, rows)
		}).run(b)
	})
	b.Run("postgres", func(b *testing.B) {
		u := pgtest.NewURL(b)
		db := pgtest.Open(b, u)
		newBenchSite(b, db, func(ctx context.Context, envID string, rows []benchUser) error {
			return benchInsertPostgres(ctx, u, envID, rows)
		}).run(b)
	})
}
