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
