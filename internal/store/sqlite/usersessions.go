package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// EndUserSessions ends a user's live sessions and browser sessions.
func (db *DB) EndUserSessions(ctx context.Context, envID, userID string, at time.Time) (int, error) {
	var n int64
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		n, err = db.endUserSessions(ctx, tx, envID, userID, at)
		return err
	})
	return int(n), err
}

// endUserSessions is EndUserSessions inside tx.
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
