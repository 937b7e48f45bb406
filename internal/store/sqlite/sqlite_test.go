package sqlite_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/store/sqlite/sqlitetest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

func newStore(t testing.TB) store.Store {
	t.Helper()
	db := sqlitetest.New(t)
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t) })
}

func TestIntegrityCheck(t *testing.T) {
	db := newStore(t).(*sqlite.DB)
	if err := db.IntegrityCheck(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// go test ./internal/store/sqlite -run '^$' -bench Sweep -benchtime 3x
func BenchmarkSweep(b *testing.B) { storetest.BenchmarkSweep(b, newStore) }
