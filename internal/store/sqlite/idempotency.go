package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// ClaimIdempotencyKey inserts r pending, or replaces an expired or
// abandoned record of its key, in one upsert; see store.Idempotency.
func (db *DB) ClaimIdempotencyKey(ctx context.Context, r *store.IdempotencyRecord, staleBefore time.Time) (bool, *store.IdempotencyRecord, error) {
	for range 3 { // the record that stands may be swept between the two statements
		var one int
		err := db.wr(ctx, `INSERT INTO idempotency_keys (key, request_hash, status, response, created_at, expires_at)
			VALUES (?1, ?2, 0, '', ?3, ?4)
			ON CONFLICT (key) DO UPDATE SET request_hash = excluded.request_hash, status = 0, response = '',
				created_at = excluded.created_at, expires_at = excluded.expires_at
			WHERE idempotency_keys.expires_at <= excluded.created_at
				OR (idempotency_keys.status = 0 AND idempotency_keys.created_at < ?5)
			RETURNING 1`, r.Key, r.RequestHash, ms(r.CreatedAt), ms(r.ExpiresAt), ms(staleBefore)).Scan(&one)
		if err == nil {
			return true, nil, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, nil, mapErr(err)
		}
		e := store.IdempotencyRecord{Key: r.Key}
		var created, expires int64
		err = db.qr(ctx, `SELECT request_hash, status, response, created_at, expires_at FROM idempotency_keys WHERE key = ?`, r.Key).
			Scan(&e.RequestHash, &e.Status, &e.Response, &created, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return false, nil, mapErr(err)
		}
		e.CreatedAt, e.ExpiresAt = fromMS(created), fromMS(expires)
		return false, &e, nil
	}
	return false, nil, errors.New("sqlite: idempotency key: claim kept racing a sweep")
}

// CompleteIdempotencyKey stores the response of the claim made at createdAt.
func (db *DB) CompleteIdempotencyKey(ctx context.Context, key []byte, createdAt time.Time, status int, response string) error {
	return rowsAffected(db.ex(ctx, `UPDATE idempotency_keys SET status = ?, response = ?
		WHERE key = ? AND created_at = ? AND status = 0`, status, response, key, ms(createdAt)))
}

// ReleaseIdempotencyKey deletes the pending claim made at createdAt.
func (db *DB) ReleaseIdempotencyKey(ctx context.Context, key []byte, createdAt time.Time) error {
	return rowsAffected(db.ex(ctx, `DELETE FROM idempotency_keys WHERE key = ? AND created_at = ? AND status = 0`, key, ms(createdAt)))
}
