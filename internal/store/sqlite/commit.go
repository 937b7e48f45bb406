package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Group commit. SQLite has one writer, and a commit (appending the pages
// to the WAL) costs more than the statements of a small transaction. So
// every write transaction goes to one goroutine, which runs the ones
// waiting together in a single transaction, each inside its own savepoint
// so that one failing leaves the others untouched, and commits them once.
// A caller returns only after the commit that holds its work, so nothing
// is acknowledged before it is durable.

// maxBatch bounds the writes committed together, and so the wait of the
// first of them.
const maxBatch = 32

// A commit delay, as PostgreSQL's commit_delay. At a steady rate below
// the peak, writes come one or two at a time, and each small batch pays a
// commit of its own (and a WAL frame for every page it touched): a
// refresh cost about a fifth more CPU at 70 % of the peak than at the
// peak. So when a write arrives less than commitDelay after the last
// commit ended (writes are coming close together), the loop waits up to
// commitDelay for the batch to reach fillTo before committing. A write
// that comes to an idle loop is committed at once: a lone sign-in or a
// quiet server pays no delay.
const (
	commitDelay = 200 * time.Microsecond
	fillTo      = 8
)

// commitStats count transactions committed and the writes they held.
type commitStats struct {
	commits, batched atomic.Int64
}

// CommitStats returns the transactions committed so far and the writes
// they held, for the server's metrics.
func (db *DB) CommitStats() (transactions, writes int64) {
	return db.commits.Load(), db.batched.Load()
}

type write struct {
	ctx  context.Context
	fn   func(context.Context, *sql.Tx) error
	done chan error
}

var errClosed = fmt.Errorf("%w: the database is closed", store.ErrUnavailable)

// tx runs fn in a write transaction (possibly shared with other callers'
// work; see above). fn may be called on another goroutine, with a context
// that carries ctx's values but is not cancelled with it: a statement
// interrupted inside a shared transaction would roll all of it back.
func (db *DB) tx(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &write{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case db.writes <- w:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.stop:
		return errClosed
	}
	return <-w.done
}

// commitLoop runs write transactions until Close.
func (db *DB) commitLoop() {
	defer close(db.stopped)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var lastEnd time.Time // when the last commit ended
	for {
		var first *write
		select {
		case first = <-db.writes:
		case <-db.stop:
			return
		}
		busy := db.commitDelay > 0 && time.Since(lastEnd) < db.commitDelay
		batch := []*write{first}
	gather:
		for len(batch) < maxBatch {
			select {
			case w := <-db.writes:
				batch = append(batch, w)
			default:
				break gather
			}
		}
		if busy && len(batch) < fillTo {
			batch = db.fill(batch, timer)
		}
		db.commit(batch)
		lastEnd = time.Now()
		db.writeStmts.preparePending(context.Background())
	}
}

// fill adds the writes that arrive within commitDelay to batch, until it
// holds fillTo or Close is called, and leaves timer stopped.
func (db *DB) fill(batch []*write, timer *time.Timer) []*write {
	timer.Reset(db.commitDelay)
	defer timer.Stop() // Go 1.23 on: no stale tick is left to drain
	for len(batch) < fillTo {
		select {
		case w := <-db.writes:
			batch = append(batch, w)
		case <-timer.C:
			return batch
		case <-db.stop:
			return batch
		}
	}
	return batch
}

// commit runs batch in one transaction and tells each caller its outcome.
func (db *DB) commit(batch []*write) {
	errs := make([]error, len(batch))
	defer func() {
		for i, w := range batch {
			w.done <- errs[i]
		}
	}()
	fail := func(err error) {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	db.commits.Add(1)
	db.batched.Add(int64(len(batch)))
	tx, err := db.writer.BeginTx(context.Background(), nil)
	if err != nil {
		fail(mapErr(err))
		return
	}
	shared := len(batch) > 1
	for i, w := range batch {
		if err := w.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if !shared {
			if errs[i] = run(context.WithoutCancel(w.ctx), tx, w.fn); errs[i] != nil {
				tx.Rollback()
				return
			}
			continue
		}
		var txErr error
		if errs[i], txErr = inSavepoint(tx, w); txErr != nil {
			tx.Rollback()
			fail(mapErr(txErr))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(mapErr(err))
	}
}

// inSavepoint runs w inside a savepoint of tx and, if it fails, undoes its
// work alone. txErr reports a transaction that can no longer be committed:
// SQLite rolls the whole transaction back on some I/O errors, and then the
// ROLLBACK TO fails, and so must every write of the batch.
func inSavepoint(tx *sql.Tx, w *write) (writeErr, txErr error) {
	bg := context.Background()
	if _, err := tx.ExecContext(bg, "SAVEPOINT w"); err != nil {
		return nil, err
	}
	if writeErr = run(context.WithoutCancel(w.ctx), tx, w.fn); writeErr != nil {
		if _, err := tx.ExecContext(bg, "ROLLBACK TO w"); err != nil {
			return writeErr, err
		}
	}
	_, txErr = tx.ExecContext(bg, "RELEASE w")
	return writeErr, txErr
}

// run calls fn, turning a panic into an error so one bad write cannot take
// the committer (and every later write) down.
func run(ctx context.Context, tx *sql.Tx, fn func(context.Context, *sql.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sqlite: write transaction panicked: %v", r)
		}
	}()
	return fn(ctx, tx)
}
