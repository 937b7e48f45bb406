package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// EndUserSessions ends a user's live sessions and browser sessions.
func (db *DB) EndUserSessions(ctx context.Context, envID, userID string, at time.Time) (int, error) {
	var n int64
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE sessions SET ended_at = $1, updated_at = $1
			WHERE environment_id = $2 AND user_id = $3 AND ended_at IS NULL`, ts(at), envID, userID)
		if err != nil {
			return mapErr(err)
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `UPDATE browser_sessions SET ended_at = $1
			WHERE environment_id = $2 AND user_id = $3 AND ended_at IS NULL`, ts(at), envID, userID)
		return mapErr(err)
	})
	return int(n), mapErr(err)
}
