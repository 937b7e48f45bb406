package sqlite

import (
	"context"
	"database/sql"
	"github.com/gatehouse/gatehouse/internal/store"
	"sync"
)

// stmtCache keeps one prepared statement per query text on a pool, so a
// hot query is parsed once, not on every call (parsing was a fifth of a
// refresh's CPU before). Queries built at run time (lists with optional
// filters) have a handful of shapes, so the cache stays small.
type stmtCache struct {
	db      *sql.DB
	mu      sync.RWMutex
	m       map[string]*sql.Stmt
	pending map[string]bool // seen inside a transaction, to prepare after it
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// cached returns a prepared statement if there is one. Inside a transaction
// on the writer this is all that may be done: preparing would need the
// writer's only connection, which the transaction holds. A miss is noted
// and prepared by preparePending once the transaction is over.
func (c *stmtCache) cached(q string) *sql.Stmt {
	c.mu.RLock()
	st := c.m[q]
	c.mu.RUnlock()
	if st == nil {
		c.mu.Lock()
		c.pending[q] = true
		c.mu.Unlock()
	}
	return st
}

// preparePending prepares the statements transactions missed.
func (c *stmtCache) preparePending(ctx context.Context) {
	c.mu.Lock()
	qs := make([]string, 0, len(c.pending))
	for q := range c.pending {
		qs = append(qs, q)
	}
	c.pending = map[string]bool{}
	c.mu.Unlock()
	for _, q := range qs {
		c.get(ctx, q) // a failure just leaves it unprepared
	}
}

func (c *stmtCache) get(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.RLock()
	st := c.m[q]
	c.mu.RUnlock()
	if st != nil {
		return st, nil
	}
	// Prepare without holding the lock: on the writer, preparing waits for
	// the one connection, which a transaction may hold while it looks up
	// statements in this cache.
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.m[q]; prev != nil {
		st.Close()
		return prev, nil
	}
	c.m[q] = st
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = map[string]*sql.Stmt{}
}

// errRow is a *sql.Row stand-in carrying a prepare error to Scan.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// rowScanner is what QueryRow results are read through.
type rowScanner interface{ Scan(...any) error }

// qr runs a single-row read on the read pool.
//
// A single-row read is an index lookup that takes microseconds, so it is
// not worth interrupting: qr checks ctx once and then runs the statement
// under a context that is never cancelled. A cancellable context would cost
// two goroutines a read (database/sql's watcher for the rows and the
// driver's for an interrupt), each of which wakes an idle processor that
// then goes back to sleep: a password sign-in, with three reads, made 21–23
// context switches in the server with them and 15–16 without.
func (db *DB) qr(ctx context.Context, q string, args ...any) rowScanner {
	if err := ctx.Err(); err != nil {
		return errRow{err}
	}
	ctx = context.WithoutCancel(ctx)
	st, err := db.readStmts.get(ctx, q)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// qrs runs a multi-row read on the read pool.
func (db *DB) qrs(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := db.readStmts.get(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// ex runs a write outside a transaction on the writer.
func (db *DB) ex(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := db.writeStmts.get(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// wr runs a single-row statement (INSERT … RETURNING) on the writer.
func (db *DB) wr(ctx context.Context, q string, args ...any) rowScanner {
	st, err := db.writeStmts.get(ctx, q)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// In a transaction: the writer has one connection, so a statement
// prepared on the writer is reused by the transaction as is; one not yet
// prepared runs unprepared this time (see stmtCache.cached).
func (db *DB) txr(ctx context.Context, tx *sql.Tx, q string, args ...any) rowScanner {
	if st := db.writeStmts.cached(q); st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, q, args...)
}

func (db *DB) txq(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	if st := db.writeStmts.cached(q); st != nil {
		return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, q, args...)
}

func (db *DB) txe(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if st := db.writeStmts.cached(q); st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, q, args...)
}

// queryPage runs a keyset list query (built for p.Scan()) on the read pool
// and makes the page from its rows.
func queryPage[T any](ctx context.Context, db *DB, p store.ListParams, scan func(interface{ Scan(...any) error }) (*T, error), id func(T) string, q string, args ...any) (store.Page[T], error) {
	rows, err := db.qrs(ctx, q, args...)
	if err != nil {
		return store.Page[T]{}, mapErr(err)
	}
	defer rows.Close()
	var items []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return store.Page[T]{}, err
		}
		items = append(items, *v)
	}
	if err := rows.Err(); err != nil {
		return store.Page[T]{}, mapErr(err)
	}
	return store.MakePage(items, id, p), nil
}
