// Package sqlite is the embedded SQLite backend of the store contract, on
// the pure-Go modernc.org/sqlite driver so Gatehouse builds with CGO_ENABLED=0.
//
// The database runs in WAL mode with foreign keys on, a busy timeout and
// synchronous=NORMAL by default: a commit that returned survives a crash of
// the process (kill -9), and the file never corrupts; only an OS crash or
// power cut may lose the last commits. Options{Synchronous: "full"} (the
// URL sqlite:///path?synchronous=full) flushes to disk on every commit.
// Writes go through a single connection whose transactions start with
// BEGIN IMMEDIATE, so writers queue instead of failing with SQLITE_BUSY on
// upgrade, and are group-committed (commit.go): the write transactions
// waiting at the same moment run in one transaction, each in a savepoint,
// with one commit, and each caller returns after that commit. The log is
// copied back into the database file by a goroutine of its own
// (checkpoint.go), so no write waits for that. Reads use a
// separate read-only pool that WAL lets run alongside the writer. User search is a range scan per indexed column (email, and
// lowercased copies of the names), so it needs no LIKE and no full scan.
// Migrations are the numbered files in migrations/, embedded.
package sqlite
