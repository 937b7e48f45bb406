// Package pgtest gives tests a fresh PostgreSQL store of their own.
//
// Tests find the server through GATEHOUSE_TEST_POSTGRES_URL and skip when it
// is unset, or under -short. With GATEHOUSE_TEST_REQUIRE_POSTGRES=1 they fail
// instead of skipping, so CI cannot pass without running them. Each store
// lives in its own schema, dropped when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store/postgres"
)

// The environment variables that configure PostgreSQL tests.
const (
	// URLEnv names the variable holding the server's URL, such as
	// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
	URLEnv = "GATEHOUSE_TEST_POSTGRES_URL"
	// RequireEnv names the variable that, set to 1, turns a skip into a failure.
	RequireEnv = "GATEHOUSE_TEST_REQUIRE_POSTGRES"
)

// URL returns the server's URL from URLEnv, or skips t (fails it if
// RequireEnv is 1) when PostgreSQL tests should not run.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(URLEnv)
	required := os.Getenv(RequireEnv) == "1"
	switch {
	case u == "" && required:
		t.Fatalf("%s=1 but %s is not set", RequireEnv, URLEnv)
	case u == "":
		t.Skipf("PostgreSQL tests skipped: set %s to run them", URLEnv)
	case testing.Short() && !required:
		t.Skipf("PostgreSQL tests skipped in -short mode (set %s=1 to run them anyway)", RequireEnv)
	}
	return u
}

// NewURL creates an empty schema, dropped (with everything in it) when the
// test ends, and returns a URL whose connections use it. Open stores on it
// only after the cleanups they register, so they close before the drop.
func NewURL(t testing.TB) string {
	t.Helper()
	base := URL(t)
	var b [8]byte
	rand.Read(b[:])
	schema := "gh_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: connect to drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(base, schema)
}

// New returns a migrated, empty store in a schema of its own, closed and
// dropped when the test ends.
func New(t testing.TB) *postgres.DB {
	t.Helper()
	return Open(t, NewURL(t))
}

// Open opens and migrates the database at u (from NewURL), closed when t
// ends; opening one URL twice gives two nodes on one database.
func Open(t testing.TB, u string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), u)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("pgtest: migrate: %v", err)
	}
	return db
}

// withSearchPath sets search_path in a URL or key=value connection string.
func withSearchPath(conn, schema string) string {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		u, err := url.Parse(conn)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return conn + " search_path=" + schema
}
