package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Concurrent writes are committed together, and each one's outcome is its
// own: a write that fails, panics or conflicts leaves nothing behind and
// does not undo the writes it shared a transaction with.
func TestGroupCommitIsolatesWrites(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.writer.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	// The first write holds the committer until the others are queued,
	// so they are committed as batches.
	started, release := make(chan struct{}), make(chan struct{})
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			close(started)
			<-release
			_, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (1000, 'first')`)
			return err
		})
	}()
	<-started
	const n = 120
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (?, 'a')`, i); err != nil {
					return mapErr(err)
				}
				switch {
				case i%5 == 1:
					return boom
				case i%7 == 2:
					panic("bad write")
				case i%11 == 3:
					_, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (1000, 'dup')`)
					return mapErr(err)
				}
				_, err := tx.ExecContext(ctx, `UPDATE t SET v = 'b' WHERE k = ?`, i)
				return err
			})
		})
	}
	time.Sleep(200 * time.Millisecond)
	close(release)
	wg.Wait()
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	for i := range n {
		var v string
		rowErr := db.writer.QueryRowContext(ctx, `SELECT v FROM t WHERE k = ?`, i).Scan(&v)
		switch {
		case i%5 == 1:
			if !errors.Is(errs[i], boom) || rowErr != sql.ErrNoRows {
				t.Errorf("write %d failed: err %v, row %q/%v; want boom and no row", i, errs[i], v, rowErr)
			}
		case i%7 == 2:
			if errs[i] == nil || rowErr != sql.ErrNoRows {
				t.Errorf("write %d panicked: err %v, row %q/%v; want an error and no row", i, errs[i], v, rowErr)
			}
		case i%11 == 3:
			if !errors.Is(errs[i], store.ErrConflict) || rowErr != sql.ErrNoRows {
				t.Errorf("write %d conflicted: err %v, row %q/%v; want ErrConflict and no row", i, errs[i], v, rowErr)
			}
		default:
			if errs[i] != nil || rowErr != nil || v != "b" {
				t.Errorf("write %d: err %v, row %q/%v; want it committed whole", i, errs[i], v, rowErr)
			}
		}
	}
	commits, writes := db.commits.Load(), db.batched.Load()
	t.Logf("%d writes in %d commits", writes, commits)
	if writes != n+1 || commits >= writes/4 {
		t.Errorf("%d writes in %d commits; want %d writes grouped into far fewer commits", writes, commits, n+1)
	}
}

// A write whose caller has given up is not run; writes after Close fail
// with ErrUnavailable instead of hanging.
func TestGroupCommitCancelAndClose(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ran := false
	if err := db.tx(ctx, func(context.Context, *sql.Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("cancelled write: err %v, ran %v", err, ran)
	}
	db.Close()
	if err := db.tx(t.Context(), func(context.Context, *sql.Tx) error { return nil }); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("write after Close: %v", err)
	}
}

// openTable opens a database at path whose commit delay is delay, closed
// when the test ends (if not before), with a table t to write to.
func openTable(t *testing.T, path string, delay time.Duration) *DB {
	t.Helper()
	db, err := open(t.Context(), path, Options{}, delay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.writer.ExecContext(t.Context(), `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// openDelayed is openTable in a new directory, with a first row (k = 0)
// just committed.
func openDelayed(t *testing.T, delay time.Duration) *DB {
	t.Helper()
	db := openTable(t, filepath.Join(t.TempDir(), "d.db"), delay)
	if err := insert(t.Context(), db, 0); err != nil {
		t.Fatal(err)
	}
	return db
}

func insert(ctx context.Context, db *DB, k int) error {
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO t (k) VALUES (?)`, k)
		return err
	})
}

// writePages writes n rows of a page each to t, keys from first on, in
// one transaction.
func writePages(ctx context.Context, db *DB, first, n int) error {
	value := strings.Repeat("x", 3500)
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for i := range n {
			if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (?, ?)`, first+i, value); err != nil {
				return err
			}
		}
		return nil
	})
}

// Writes that follow a commit closely wait for each other, up to the
// delay, and are committed together as soon as fillTo of them are there.
func TestCommitDelayGathersCloseWrites(t *testing.T) {
	const delay = time.Second
	db := openDelayed(t, delay)
	ctx := t.Context()
	before := db.commits.Load()
	start := time.Now()
	errs := make(chan error, fillTo)
	for k := 1; k <= fillTo; k++ {
		go func() { errs <- insert(ctx, db, k) }()
		time.Sleep(5 * time.Millisecond) // without the delay, each would be committed alone
	}
	for range fillTo {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := db.commits.Load() - before; n != 1 {
		t.Errorf("%d writes that followed a commit were committed in %d transactions, want 1", fillTo, n)
	}
	if took := time.Since(start); took > delay/2 {
		t.Errorf("a full batch waited %v: it should be committed once it holds fillTo writes, not at the delay (%v)", took, delay)
	}
}

// A write that finds the loop idle is committed at once.
func TestCommitDelayNotWhenIdle(t *testing.T) {
	const delay = time.Second
	db := openDelayed(t, delay)
	ctx := t.Context()
	time.Sleep(delay + 100*time.Millisecond)
	start := time.Now()
	if err := insert(ctx, db, 1); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > delay/2 {
		t.Errorf("a write to an idle database took %v, as if it waited for the commit delay (%v)", took, delay)
	}
}

// Close during the delay commits the writes that were waiting: they are
// acknowledged and found after reopening, and Close does not wait out
// the delay.
func TestCommitDelayClose(t *testing.T) {
	const delay = time.Minute
	path := filepath.Join(t.TempDir(), "c.db")
	db := openTable(t, path, delay)
	ctx := t.Context()
	if err := insert(ctx, db, 0); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- insert(ctx, db, 1) }()
	time.Sleep(200 * time.Millisecond) // the write is waiting for more
	start := time.Now()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the write waiting when Close was called: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Close took %v", took)
	}
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.reader.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("found %d rows after reopening, want 2", n)
	}
}
