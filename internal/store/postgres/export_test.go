package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

// InsertUsers inserts users fast, for tests that need many: one COPY, then
// ANALYZE, as autovacuum would soon do, so the planner knows the table.
func (db *DB) InsertUsers(ctx context.Context, users []store.User) error {
	cols := strings.Split(strings.Join(strings.Fields(userInsertColumns), ""), ",")
	_, err := db.pool.CopyFrom(ctx, pgx.Identifier{"users"}, cols, pgx.CopyFromSlice(len(users), func(i int) ([]any, error) {
		return userArgs(&users[i]), nil
	}))
	if err != nil {
		return mapErr(err)
	}
	_, err = db.pool.Exec(ctx, "ANALYZE users")
	return mapErr(err)
}

// ExplainListUsers returns the EXPLAIN output of the query ListUsers runs
// for these arguments, planned as ListUsers has it planned.
func (db *DB) ExplainListUsers(ctx context.Context, envID string, f store.UserFilter, p store.ListParams) ([]string, error) {
	q, args := listUsersQuery(envID, f, p.Scan())
	if f.Search != "" {
		args = append([]any{pgx.QueryExecModeExec}, args...)
	}
	rows, _ := db.pool.Query(ctx, "EXPLAIN "+q, args...)
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// LowerUserNames runs migration 3's Go step, which rewrites lowercased
// names that differ from searchKey's, in a transaction of its own.
func (db *DB) LowerUserNames(ctx context.Context) error {
	return db.tx(ctx, func(tx pgx.Tx) error { return lowerUserNames(ctx, tx) })
}
