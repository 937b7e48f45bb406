package sqlite_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// A database at schema version 1 with data in it upgrades in place, and
// its environments get the default token and session settings.
func TestUpgradeFromV1(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	v1, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		string(v1),
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`,
		`INSERT INTO schema_migrations VALUES (1, '0001_init', 1700000000000)`,
		`INSERT INTO environments (id, name, type, client_id, created_at, updated_at)
			VALUES ('environment_01', 'Old', 'production', 'client_01', 1700000000000, 1700000000000)`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			raw.Close()
			t.Fatal(err)
		}
	}
	raw.Close()

	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
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
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

// A database at schema version 2 with users in it upgrades in place: the
// users' lowercased names are filled in, with Go's Unicode lowercasing
// where SQLite's lower() (ASCII only) falls short, so search finds them.
func TestUpgradeFromV2(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for _, f := range []string{"migrations/0001_init.sql", "migrations/0002_auth.sql"} {
		b, err := os.ReadFile(f)
		if err != nil {
			raw.Close()
			t.Fatal(err)
		}
		stmts = append(stmts, string(b))
	}
	stmts = append(stmts,
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`,
		`INSERT INTO schema_migrations VALUES (1, '0001_init', 1700000000000), (2, '0002_auth', 1700000000000)`,
		`INSERT INTO environments (id, name, type, client_id, created_at, updated_at)
			VALUES ('environment_01', 'Old', 'production', 'client_01', 1700000000000, 1700000000000)`,
		`INSERT INTO users (id, environment_id, email, first_name, last_name, name, created_at, updated_at) VALUES
			('user_01', 'environment_01', 'ada@example.com', 'Ada', 'Lovelace', NULL, 1700000000000, 1700000000000),
			('user_02', 'environment_01', 'ez@example.fr', 'ÉMILE', 'Zola', 'Émile Zola', 1700000000000, 1700000000000),
			('user_03', 'environment_01', 'plain@example.com', NULL, NULL, NULL, 1700000000000, 1700000000000)`,
	)
	for _, q := range stmts {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			raw.Close()
			t.Fatal(err)
		}
	}
	raw.Close()

	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := db.GetEnvironment(ctx, "environment_01")
	if err != nil || e.Branding != (store.Branding{}) {
		t.Fatalf("upgraded environment = %+v, %v", e, err)
	}
	for q, want := range map[string]string{
		"ada": "user_01", "LOVE": "user_01", "émile": "user_02", "ÉMILE Z": "user_02", "zola": "user_02", "plain": "user_03",
	} {
		page, err := db.ListUsers(ctx, "environment_01", store.UserFilter{Search: q}, store.ListParams{})
		if err != nil || len(page.Data) != 1 || page.Data[0].ID != want {
			t.Errorf("search %q = %+v, %v; want %s", q, page.Data, err, want)
		}
	}
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}
