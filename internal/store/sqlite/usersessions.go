package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// endUserSessions ends every live session and browser session of a user
// inside tx (a password reset) and returns how many sessions it ended.
func (db *DB) endUserSessions(ctx context.Context, tx *sql.Tx, envID, userID string, at time.Time) (int64, error) {
	res, err := db.txe(ctx, tx, `UPDATE sessions SET ended_at = ?, updated_at = ?
		WHERE environment_id = ? AND user_id = ? AND ended_at IS NULL`, ms(at), ms(at), envID, userID)
	if err != nil {
		return 0, mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	_, err = db.txe(ctx, tx, `UPDATE browser_sessions SET ended_at = ?
		WHERE environment_id = ? AND user_id = ? AND ended_at IS NULL`, ms(at), envID, userID)
	return n, mapErr(err)
}
