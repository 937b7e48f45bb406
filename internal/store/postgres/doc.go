// Package postgres is the PostgreSQL backend of the store contract, on pgx
// and its connection pool (no database/sql).
//
// Every read-modify-write runs in a READ COMMITTED transaction that first
// locks the row it reads (SELECT … FOR NO KEY UPDATE), so concurrent updates
// queue instead of losing writes. Times are timestamptz truncated to
// milliseconds on write and read back in UTC; lists order by IDs whose
// column uses the "C" collation, so they sort bytewise as in SQLite. User
// search is a range scan per indexed column (email, and lowercased copies
// of the names) in the "C" collation, planned afresh for each prefix.
// Migrations are the numbered files in migrations/, embedded; Migrate holds
// a PostgreSQL advisory lock while it applies them, so several nodes may
// call it at once.
package postgres
