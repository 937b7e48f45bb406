package postgres_test

import (
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
