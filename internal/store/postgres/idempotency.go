package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

// ClaimIdempotencyKey inserts r pending, or replaces an expired or
// abandoned record of its key, in one upsert; see store.Idempotency.
func (db *DB) ClaimIdempotencyKey(ctx context.Context, r *store.IdempotencyRecord, staleBefore time.Time) (bool, *store.IdempotencyRecord, error) {
	for range 3 { // the record that stands may be swept between the two statements
		var one int
		err := db.pool.QueryRow(ctx, `INSERT INTO idempotency_keys AS k (key, request_hash, status, response, created_at, expires_at)
			VALUES ($1, $2, 0, '', $3, $4)
			ON CONFLICT (key) DO UPDATE SET request_hash = excluded.request_hash, status = 0, response = '',
				created_at = excluded.created_at, expires_at = excluded.expires_at
			WHERE k.expires_at <= excluded.created_at OR (k.status = 0 AND k.created_at < $5)
			RETURNING 1`, r.Key, r.RequestHash, ts(r.CreatedAt), ts(r.ExpiresAt), ts(staleBefore)).Scan(&one)
		if err == nil {
			return true, nil, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return false, nil, mapErr(err)
		}
		e := store.IdempotencyRecord{Key: r.Key}
		err = db.pool.QueryRow(ctx, `SELECT request_hash, status, response, created_at, expires_at FROM idempotency_keys WHERE key = $1`, r.Key).
			Scan(&e.RequestHash, &e.Status, &e.Response, &e.CreatedAt, &e.ExpiresAt)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return false, nil, mapErr(err)
		}
		e.CreatedAt, e.ExpiresAt = e.CreatedAt.UTC(), e.ExpiresAt.UTC()
		return false, &e, nil
	}
	return false, nil, errors.New("postgres: idempotency key: claim kept racing a sweep")
}

// CompleteIdempotencyKey stores the response of the claim made at createdAt.
func (db *DB) CompleteIdempotencyKey(ctx context.Context, key []byte, createdAt time.Time, status int, response string) error {
	return rowsAffected(db.pool.Exec(ctx, `UPDATE idempotency_keys SET status = $1, response = $2
		WHERE key = $3 AND created_at = $4 AND status = 0`, status, response, key, ts(createdAt)))
}

// ReleaseIdempotencyKey deletes the pending claim made at createdAt.
func (db *DB) ReleaseIdempotencyKey(ctx context.Context, key []byte, createdAt time.Time) error {
	return rowsAffected(db.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE key = $1 AND created_at = $2 AND status = 0`, key, ts(createdAt)))
}
