package postgres_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// A database at schema version 1 with data in it upgrades in place, and
// its environments get the default token and session settings.
func TestUpgradeFromV1(t *testing.T) {
	ctx := t.Context()
	u := pgtest.NewURL(t)
	v1, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		string(v1),
		`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, '0001_init', now())`,
		`INSERT INTO environments (id, name, type, client_id, created_at, updated_at)
			VALUES ('environment_01', 'Old', 'production', 'client_01', '2023-11-14 22:13:20Z', '2023-11-14 22:13:20Z')`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			conn.Close(ctx)
			t.Fatal(err)
		}
	}
	conn.Close(ctx)

	db, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := db.GetEnvironment(ctx, "environment_01")
	if err != nil {
		t.Fatal(err)
	}
	if e.AccessTokenTTL != store.DefaultAccessTokenTTL || e.SessionLifetime != store.DefaultSessionLifetime ||
		e.SessionIdleTimeout != store.DefaultSessionIdleTimeout || e.SigningAlgorithm != store.DefaultSigningAlgorithm {
		t.Errorf("upgraded environment = %+v; want the default settings", e)
	}
	if !e.CreatedAt.Equal(time.UnixMilli(1700000000000)) {
		t.Errorf("CreatedAt = %v", e.CreatedAt)
	}
}

// A database at schema version 2 with users in it upgrades in place: the
// users' lowercased names are filled in, matching Go's lowercasing whatever
// the database's lower() does, so search finds them.
func TestUpgradeFromV2(t *testing.T) {
	ctx := t.Context()
	u := pgtest.NewURL(t)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for _, f := range []string{"migrations/0001_init.sql", "migrations/0002_auth.sql"} {
		b, err := os.ReadFile(f)
		if err != nil {
			conn.Close(ctx)
			t.Fatal(err)
		}
		stmts = append(stmts, string(b))
	}
	stmts = append(stmts,
		`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, '0001_init', now()), (2, '0002_auth', now())`,
		`INSERT INTO environments (id, name, type, client_id, created_at, updated_at)
			VALUES ('environment_01', 'Old', 'production', 'client_01', now(), now())`,
		`INSERT INTO users (id, environment_id, email, first_name, last_name, name, created_at, updated_at) VALUES
			('user_01', 'environment_01', 'ada@example.com', 'Ada', 'Lovelace', NULL, now(), now()),
			('user_02', 'environment_01', 'ez@example.fr', 'ÉMILE', 'Zola', 'Émile Zola', now(), now()),
			('user_03', 'environment_01', 'plain@example.com', NULL, NULL, NULL, now(), now())`,
	)
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			conn.Close(ctx)
			t.Fatal(err)
		}
	}
	conn.Close(ctx)

	db, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := db.GetEnvironment(ctx, "environment_01")
	if err != nil || e.Branding != (store.Branding{}) {
		t.Fatalf("upgraded environment = %+v, %v", e, err)
	}
	search := func(when string) {
		for q, want := range map[string]string{
			"ada": "user_01", "LOVE": "user_01", "émile": "user_02", "ÉMILE Z": "user_02", "zola": "user_02", "plain": "user_03",
		} {
			page, err := db.ListUsers(ctx, "environment_01", store.UserFilter{Search: q}, store.ListParams{})
			if err != nil || len(page.Data) != 1 || page.Data[0].ID != want {
				t.Errorf("%s: search %q = %+v, %v; want %s", when, q, page.Data, err, want)
			}
		}
	}
	search("after migrating")

	// This server's lower() may fold É as Go does; make it look like one
	// whose locale folds ASCII only (as SQLite's lower() does) and check
	// that the migration's Go step repairs what it got wrong.
	conn, err = pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `UPDATE users SET first_name_lower = 'Émile', name_lower = 'Émile zola' WHERE id = 'user_02'`)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.LowerUserNames(ctx); err != nil {
		t.Fatal(err)
	}
	search("after the repair")
}

// Upgrading to the sweeper's indexes (0007), which are built CONCURRENTLY
// outside a transaction, recovers from an earlier attempt that failed
// part-way and left an invalid index behind: Migrate drops and rebuilds
// it, and the version is recorded once every index is valid.
func TestUpgradeFromV6AfterAFailedIndexBuild(t *testing.T) {
	ctx := t.Context()
	u := pgtest.NewURL(t)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	exec := func(q string) {
		t.Helper()
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`)
	for v, name := range []string{"0001_init", "0002_auth", "0003_admin", "0004_mail", "0005_email_settings", "0006_refresh_token_indexes"} {
		b, err := os.ReadFile("migrations/" + name + ".sql")
		if err != nil {
			t.Fatal(err)
		}
		exec(string(b))
		exec(fmt.Sprintf(`INSERT INTO schema_migrations VALUES (%d, '%s', now())`, v+1, name))
	}
	exec(`INSERT INTO environments (id, name, type, client_id, created_at, updated_at)
		VALUES ('environment_01', 'Old', 'production', 'client_01', now(), now())`)
	exec(`INSERT INTO refresh_tokens (hash, environment_id, session_id, created_at) VALUES
		('\x01', 'environment_01', 'session_01', '2026-01-01Z'), ('\x02', 'environment_01', 'session_01', '2026-01-01Z')`)
	// A concurrent build that fails (here: unique over duplicates) leaves
	// its index behind, invalid, as an interrupted one would.
	if _, err := conn.Exec(ctx, `CREATE UNIQUE INDEX CONCURRENTLY refresh_tokens_created ON refresh_tokens (created_at)`); err == nil {
		t.Fatal("the unique index over duplicate values was built")
	}
	var valid bool
	if err := conn.QueryRow(ctx, `SELECT indisvalid FROM pg_index WHERE indexrelid = 'refresh_tokens_created'::regclass`).Scan(&valid); err != nil || valid {
		t.Fatalf("leftover index: valid %v, %v; want an invalid one", valid, err)
	}

	db, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for range 2 { // the second finds nothing to do
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"auth_codes_expires", "refresh_tokens_created", "sessions_expires", "browser_sessions_expires", "challenges_expires"} {
		var valid, unique bool
		err := conn.QueryRow(ctx, `SELECT indisvalid, indisunique FROM pg_index WHERE indexrelid = $1::regclass`, name).Scan(&valid, &unique)
		if err != nil || !valid || unique {
			t.Errorf("index %s: valid %v, unique %v, %v; want a valid plain index", name, valid, unique, err)
		}
	}
	var version, tokens int
	if err := conn.QueryRow(ctx, `SELECT max(version), (SELECT count(*) FROM refresh_tokens) FROM schema_migrations`).Scan(&version, &tokens); err != nil || version < 7 || tokens != 2 {
		t.Errorf("after Migrate: schema version %d, %d refresh tokens, %v; want at least 7 and 2", version, tokens, err)
	}
}
