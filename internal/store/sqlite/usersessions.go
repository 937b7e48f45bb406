package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// endUserSessions ends every live session and browser session of a user
// inside tx (a password reset).
func (db *DB) endUserSessions(ctx context.Context, tx *sql.Tx, envID, userID string, at time.Time) error {
	if _, err := db.txe(ctx, tx, `UPDATE sessions SET ended_at = ?, updated_at = ?
		WHERE environment_id = ? AND user_id = ? AND ended_at IS NULL`, ms(at), ms(at), envID, userID); err != nil {
		return mapErr(err)
	}
	_, err := db.txe(ctx, tx, `UPDATE browser_sessions SET ended_at = ?
		WHERE environment_id = ? AND user_id = ? AND ended_at IS NULL`, ms(at), envID, userID)
	return mapErr(err)
}
