package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse/gatehouse/internal/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DB is a store.Store on one SQLite file.
type DB struct {
	path       string
	writer     *sql.DB // one connection; every write and read-modify-write
	reader     *sql.DB // read-only pool
	readStmts  *stmtCache
	writeStmts *stmtCache
	writes     chan *write // to the group committer (commit.go)
	// checkpointer is the checkpoint goroutine's connection (checkpoint.go).
	checkpointer *sql.DB
	stop         chan struct{} // closed by Close
	stopped      chan struct{} // closed when the committer has returned
	checkpointed chan struct{} // closed when the checkpoint goroutine has returned
	closeOnce    sync.Once
	commitDelay  time.Duration // commit.go; set before commitLoop starts
	commitStats
	logFrames atomic.Int64 // checkpoint.go
}

var _ store.Store = (*DB)(nil)

// Options tune the database.
type Options struct {
	// Synchronous is "normal" (the default) or "full". In WAL mode, normal
	// never corrupts the database and loses nothing when the process
	// crashes (kill -9); only an operating-system crash or power cut can
	// lose the last commits. full also survives those, at the cost of a
	// disk flush per commit.
	Synchronous string
}

// Open opens (creating if needed) the database file at path. It does not
// migrate; call Migrate.
func Open(ctx context.Context, path string, opts ...Options) (*DB, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	return open(ctx, path, o, commitDelay)
}

// open is Open with the commit delay (commit.go) given, for tests.
func open(ctx context.Context, path string, o Options, delay time.Duration) (*DB, error) {
	sync := "NORMAL"
	switch strings.ToLower(o.Synchronous) {
	case "", "normal":
	case "full":
		sync = "FULL"
	default:
		return nil, fmt.Errorf("sqlite: synchronous must be normal or full, not %q", o.Synchronous)
	}
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: create directory: %w", err)
		}
	}
	pragmas := []string{
		"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)",
		"synchronous(" + sync + ")", "temp_store(MEMORY)", "wal_autocheckpoint(" + strconv.Itoa(walLimitPages) + ")",
	}
	dsn := func(extra ...string) string {
		q := url.Values{}
		for _, p := range append(pragmas, extra...) {
			q.Add("_pragma", p)
		}
		return "file:" + path + "?" + q.Encode()
	}
	writer, err := sql.Open("sqlite", dsn()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetConnMaxIdleTime(0)
	reader, err := sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	reader.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	reader.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	checkpointer, err := openCheckpointer(dsn())
	if err != nil {
		writer.Close()
		reader.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	db := &DB{path: path, writer: writer, reader: reader, checkpointer: checkpointer, readStmts: newStmtCache(reader), writeStmts: newStmtCache(writer),
		writes: make(chan *write), stop: make(chan struct{}), stopped: make(chan struct{}), checkpointed: make(chan struct{}),
		commitDelay: delay}
	go db.commitLoop()
	go db.checkpointLoop()
	// Touch the writer first so the file and WAL exist before readers open.
	if err := writer.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: restrict permissions: %w", err)
	}
	return db, nil
}

// Backend returns "sqlite".
func (db *DB) Backend() string { return "sqlite" }

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Close closes the pools and the checkpoint connection.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { close(db.stop) })
	<-db.stopped
	<-db.checkpointed
	db.readStmts.close()
	db.writeStmts.close()
	return errors.Join(db.checkpointer.Close(), db.reader.Close(), db.writer.Close())
}

// Ping checks that both pools answer.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	return nil
}

// IntegrityCheck runs PRAGMA integrity_check and returns an error unless
// the database reports "ok".
func (db *DB) IntegrityCheck(ctx context.Context) error {
	var res string
	if err := db.writer.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return fmt.Errorf("sqlite: integrity check: %s", res)
	}
	return nil
}

// mapErr turns driver errors into store sentinels.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", store.ErrConflict, err)
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR:
			return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
		}
	}
	return err
}

// Times are stored as milliseconds since the epoch.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func msPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func fromMSPtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

// Durations are stored as whole milliseconds.
func durMS(d time.Duration) int64 { return d.Milliseconds() }

func fromDurMS(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

// blobOrNil stores an empty byte slice as NULL.
func blobOrNil(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// textOrNil stores an empty string as NULL.
func textOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		base := filepath.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and _", base)
		}
		body, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{v, strings.TrimSuffix(base, ".sql"), string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// migrationFixes are Go steps that finish a migration, run in its
// transaction right after its SQL, for changes SQL alone cannot make.
var migrationFixes = map[int]func(context.Context, *sql.Tx) error{
	3: lowerUserNames,
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`

// Migrate applies pending migrations, each in its own immediate transaction.
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return err
	}
	if _, err := db.writer.ExecContext(ctx, createMigrationsTable); err != nil {
		return mapErr(err)
	}
	for _, m := range ms {
		err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if fix := migrationFixes[m.version]; fix != nil {
				if err := fix(ctx, tx); err != nil {
					return fmt.Errorf("migration %s: %w", m.name, err)
				}
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Migrations lists known migrations and whether each is applied.
func (db *DB) Migrations(ctx context.Context) ([]store.Migration, error) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return nil, err
	}
	applied := map[int]time.Time{}
	rows, err := db.reader.QueryContext(ctx, "SELECT version, applied_at FROM schema_migrations")
	if err != nil && !strings.Contains(err.Error(), "no such table") {
		return nil, mapErr(err)
	}
	if err == nil {
		defer rows.Close()
		for rows.Next() {
			var v int
			var at int64
			if err := rows.Scan(&v, &at); err != nil {
				return nil, err
			}
			applied[v] = fromMS(at)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]store.Migration, 0, len(ms))
	for _, m := range ms {
		at, ok := applied[m.version]
		out = append(out, store.Migration{Version: m.version, Name: m.name, Applied: ok, AppliedAt: at})
	}
	return out, nil
}
