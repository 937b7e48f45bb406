package sqlite_test

import (
	"context"
	"errors"
	"runtime/metrics"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite/sqlitetest"
)

// goroutinesCreated is how many goroutines the process has started.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// A single-row read starts no goroutine, even under a context that can be
// cancelled (see qr), and still refuses a context that has ended.
func TestReadsStartNoGoroutines(t *testing.T) {
	db := sqlitetest.New(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	read := func() error {
		_, err := db.GetUserByEmail(ctx, "environment_none", "nobody@example.com")
		return err
	}
	if err := read(); !errors.Is(err, store.ErrNotFound) { // prepares the statement
		t.Fatalf("read: %v, want ErrNotFound", err)
	}
	before := goroutinesCreated()
	for range 100 {
		if err := read(); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("read: %v, want ErrNotFound", err)
		}
	}
	if n := goroutinesCreated() - before; n > 10 {
		t.Errorf("100 reads started %d goroutines; want none of their own", n)
	}
	cancel()
	if err := read(); !errors.Is(err, context.Canceled) {
		t.Errorf("read under a cancelled context: %v, want context.Canceled", err)
	}
}
