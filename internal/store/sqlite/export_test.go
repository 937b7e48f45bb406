package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/store"
)

// InsertUsers inserts users fast, for tests that need many: one
// transaction, one prepared statement.
func (db *DB) InsertUsers(ctx context.Context, users []store.User) error {
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, insertUser)
		if err != nil {
			return err
		}
		defer st.Close()
		for i := range users {
			if _, err := st.ExecContext(ctx, userArgs(&users[i])...); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
}

// ExplainListUsers returns the EXPLAIN QUERY PLAN details of the query
// ListUsers runs for these arguments, one line per plan step.
func (db *DB) ExplainListUsers(ctx context.Context, envID string, f store.UserFilter, p store.ListParams) ([]string, error) {
	q, args := listUsersQuery(envID, f, p.Scan())
	rows, err := db.reader.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%d<-%d %s", id, parent, detail))
	}
	return out, rows.Err()
}
