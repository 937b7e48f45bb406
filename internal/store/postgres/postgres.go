package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/internal/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DefaultConnectTimeout bounds how long opening one connection may take
// when the URL sets no connect_timeout, so a database that is down fails
// fast instead of hanging.
const DefaultConnectTimeout = 5 * time.Second

// migrateLockKey is the advisory lock Migrate holds ("gatehous" in ASCII).
const migrateLockKey int64 = 0x6761746568_6f7573

// DB is a store.Store on a PostgreSQL connection pool.
type DB struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at url, a postgres:// URL or a key=value
// connection string as pgx accepts, and checks that it answers. The pool
// holds at most max(4, 4×GOMAXPROCS) connections unless the URL sets
// pool_max_conns. An unreachable database gives an error wrapping
// store.ErrUnavailable. Open does not migrate; call Migrate.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := parseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", unavailable(err))
	}
	return &DB{pool: pool}, nil
}

// parseConfig parses url and fills in Gatehouse's pool defaults.
func parseConfig(url string) (*pgxpool.Config, error) {
	if url == "" {
		return nil, errors.New("empty database URL")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	// pgxpool consumes pool_max_conns, so look for it in the string itself.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = int32(max(4, 4*runtime.GOMAXPROCS(0)))
	}
	if cfg.ConnConfig.ConnectTimeout <= 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "gatehouse"
	}
	return cfg, nil
}

// Backend returns "postgres".
func (db *DB) Backend() string { return "postgres" }

// Close closes the pool, waiting for connections in use to be returned.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return unavailable(err)
	}
	return nil
}

// beginner is what can start a transaction: the pool or one connection.
type beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// tx runs fn in a transaction on b and commits if fn returns nil.
func tx(ctx context.Context, b beginner, fn func(pgx.Tx) error) error {
	t, err := b.Begin(ctx)
	if err != nil {
		return mapErr(err)
	}
	// A no-op after Commit; rolls back if fn fails or panics. If ctx is
	// done, pgx closes the connection instead, which rolls back too.
	defer t.Rollback(ctx)
	if err := fn(t); err != nil {
		return err
	}
	return mapErr(t.Commit(ctx))
}

// tx runs fn in a transaction on the pool.
func (db *DB) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return tx(ctx, db.pool, fn)
}

// readModifyWrite runs a read-modify-write transaction in two round trips
// where tx takes four: BEGIN goes out in one batch with the statements
// read queues (which lock the rows they read, FOR NO KEY UPDATE), and
// COMMIT in one batch with the statements write queues. write runs
// between the two and sees what read's callbacks scanned. An error from a
// callback, from write or from PostgreSQL rolls the transaction back and
// is returned.
func (db *DB) readModifyWrite(ctx context.Context, read func(*pgx.Batch), write func(*pgx.Batch) error) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return mapErr(err)
	}
	defer func() {
		if conn.Conn().PgConn().TxStatus() != 'I' {
			// Still in the transaction: roll it back. If that fails too
			// (ctx is done, the connection broke), Release closes the
			// connection rather than pool it mid-transaction.
			conn.Exec(ctx, "ROLLBACK")
		}
		conn.Release()
	}()
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	read(b)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return mapErr(err)
	}
	b = &pgx.Batch{}
	if err := write(b); err != nil {
		return err
	}
	// PostgreSQL answers a COMMIT of a failed transaction with the tag
	// ROLLBACK, not an error.
	b.Queue("COMMIT").Exec(func(tag pgconn.CommandTag) error {
		if tag.String() != "COMMIT" {
			return fmt.Errorf("transaction rolled back at commit (%s)", tag)
		}
		return nil
	})
	return mapErr(conn.SendBatch(ctx, b).Close())
}

// qualified prefixes each column of a column list with a table alias.
func qualified(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// mapErr turns driver errors into store sentinels.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrUnavailable):
		return err // already mapped
	case errors.Is(err, context.Canceled):
		return err // the caller gave up; the database is not to blame
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return unavailable(err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505": // unique_violation
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03": // admin/crash shutdown, cannot connect now
			return unavailable(err)
		}
		return err
	}
	var ne net.Error
	if pgconn.Timeout(err) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) {
		return unavailable(err)
	}
	return err
}

// unavailable wraps err in store.ErrUnavailable, keeping err's own chain.
func unavailable(err error) error {
	if errors.Is(err, store.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}

// rowsAffected returns ErrNotFound when an UPDATE or DELETE matched nothing.
func rowsAffected(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ts returns t as stored: UTC, truncated to milliseconds.
func ts(t time.Time) time.Time { return store.Truncate(t) }

func tsPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := ts(*t)
	return &v
}

// utcPtr returns a scanned nullable time in UTC.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// Durations are stored as whole milliseconds.
func durMS(d time.Duration) int64 { return d.Milliseconds() }

func fromDurMS(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

// bytesOrNil stores an empty byte slice as NULL.
func bytesOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// textOrNil stores an empty string as NULL.
func textOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type migration struct {
	version int
	name    string
	sql     string
	// statements is set for a file that begins with noTransaction: its
	// statements run one at a time outside a transaction, as CREATE INDEX
	// CONCURRENTLY must. Such a file must be safe to run again from the
	// start, since a failure part-way leaves what ran before it.
	statements []string
}

// noTransaction marks a migration that runs outside a transaction.
const noTransaction = "-- gatehouse:no-transaction\n"

// splitStatements splits a no-transaction migration into its statements:
// each ends with a semicolon at the end of a line, and comment lines are
// dropped. (Such files hold plain statements only, no function bodies.)
func splitStatements(body string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(body) {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		out = append(out, rest)
	}
	return out
}

func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and _", base)
		}
		body, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		m := migration{version: v, name: strings.TrimSuffix(base, ".sql"), sql: string(body)}
		if strings.HasPrefix(m.sql, noTransaction) {
			if migrationFixes[v] != nil {
				return nil, fmt.Errorf("migration %s: a no-transaction migration cannot have a Go fix", base)
			}
			m.statements = splitStatements(m.sql)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// migrationFixes are Go steps that finish a migration, run in its
// transaction right after its SQL, for changes SQL alone cannot make.
var migrationFixes = map[int]func(context.Context, pgx.Tx) error{
	3: lowerUserNames,
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`

// Migrate applies pending migrations, each in its own transaction, or,
// for the few marked noTransaction, statement by statement. It holds a
// session advisory lock on one connection throughout, so concurrent
// callers (other nodes included) wait and then find nothing left to do.
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return err
	}
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return mapErr(err)
	}
	// Closing the session releases the lock too, whatever state it is in.
	discard := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		conn.Hijack().Close(cctx)
	}
	if err := migrationLock(ctx, conn); err != nil {
		discard()
		return fmt.Errorf("postgres: migration lock: %w", mapErr(err))
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", migrateLockKey); err != nil {
			discard()
			return
		}
		conn.Release()
	}()
	if _, err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return mapErr(err)
	}
	for _, m := range ms {
		if m.statements != nil {
			if err := migrateWithoutTx(ctx, conn, m); err != nil {
				return err
			}
			continue
		}
		err := tx(ctx, conn, func(tx pgx.Tx) error {
			if applied, err := migrationApplied(ctx, tx, m.version); err != nil || applied {
				return err
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, mapErr(err))
			}
			if fix := migrationFixes[m.version]; fix != nil {
				if err := fix(ctx, tx); err != nil {
					return fmt.Errorf("migration %s: %w", m.name, mapErr(err))
				}
			}
			return recordMigration(ctx, tx, m)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// migrationApplied reports whether version is recorded as applied.
func migrationApplied(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, version int) (bool, error) {
	var applied bool
	err := q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", version).Scan(&applied)
	return applied, mapErr(err)
}

// migrationLock takes the migration lock on conn, trying every 100 ms
// rather than waiting in pg_advisory_lock: a session waiting there is in
// a transaction, which a CREATE INDEX CONCURRENTLY run by the holder waits
// for in turn, and PostgreSQL would break the deadlock by failing one.
func migrationLock(ctx context.Context, conn *pgxpool.Conn) error {
	for {
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", migrateLockKey).Scan(&got); err != nil || got {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// migrateWithoutTx applies a no-transaction migration on conn, which holds
// the migration lock, unless it is recorded as applied. Its version is
// recorded after its last statement succeeds; a failure before that leaves
// it to run again, from the start, at the next Migrate.
func migrateWithoutTx(ctx context.Context, conn *pgxpool.Conn, m migration) error {
	if applied, err := migrationApplied(ctx, conn, m.version); err != nil || applied {
		return err
	}
	for _, q := range m.statements {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("migration %s: %w, in: %s (the migration runs again from its first statement at the next start)", m.name, mapErr(err), q)
		}
	}
	return recordMigration(ctx, conn, m)
}

// recordMigration records m as applied.
func recordMigration(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, m migration) error {
	_, err := q.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
		m.version, m.name, store.Now())
	return mapErr(err)
}

// Migrations lists known migrations and whether each is applied.
func (db *DB) Migrations(ctx context.Context) ([]store.Migration, error) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return nil, err
	}
	applied := map[int]time.Time{}
	rows, _ := db.pool.Query(ctx, "SELECT version, applied_at FROM schema_migrations")
	var v int
	var at time.Time
	_, err = pgx.ForEachRow(rows, []any{&v, &at}, func() error {
		applied[v] = at.UTC()
		return nil
	})
	var pe *pgconn.PgError
	if err != nil && !(errors.As(err, &pe) && pe.Code == "42P01") { // undefined_table: nothing applied yet
		return nil, mapErr(err)
	}
	out := make([]store.Migration, 0, len(ms))
	for _, m := range ms {
		at, ok := applied[m.version]
		out = append(out, store.Migration{Version: m.version, Name: m.name, Applied: ok, AppliedAt: at})
	}
	return out, nil
}

// queryPage runs a keyset list query (built for p.Scan()) and makes the
// page from its rows.
func queryPage[T any](ctx context.Context, db *DB, p store.ListParams, scan func(pgx.Row) (*T, error), id func(T) string, q string, args ...any) (store.Page[T], error) {
	rows, err := db.pool.Query(ctx, q, args...)
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
