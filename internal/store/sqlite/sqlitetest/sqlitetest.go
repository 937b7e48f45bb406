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
	return Open(t, filepath.Join(t.TempDir(), "gatehouse.db"))
}

// Open opens and migrates the database file at path, closed when t ends;
// opening one path twice gives two handles on one database, as two
// processes would have.
func Open(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}
