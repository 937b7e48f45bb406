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
