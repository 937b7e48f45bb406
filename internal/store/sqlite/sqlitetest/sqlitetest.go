// Package sqlitetest gives tests a fresh, migrated SQLite store of their
// own, in a file under the test's temporary directory, closed when the
// test ends.
package sqlitetest

import (
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// New opens and migrates a new database file for t.
func New(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}
