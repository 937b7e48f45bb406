package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

// RecordFailure adds one failure to key at now in a single upsert, so
// concurrent failures are all counted (a conflicting insert waits for the
// other and then updates the row it committed). A counter whose first
// failure is before now-window restarts at 1.
func (db *DB) RecordFailure(ctx context.Context, key string, now time.Time, window time.Duration) (store.Throttle, error) {
	var th store.Throttle
	err := db.pool.QueryRow(ctx, `INSERT INTO throttles AS t (key, failures, first_at, last_at) VALUES ($1, 1, $2, $2)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN t.first_at < $3 THEN 1 ELSE t.failures + 1 END,
			first_at = CASE WHEN t.first_at < $3 THEN excluded.first_at ELSE t.first_at END,
			last_at = excluded.last_at
		RETURNING failures, first_at, last_at`, key, ts(now), ts(now.Add(-window))).Scan(&th.Failures, &th.FirstAt, &th.LastAt)
	if err != nil {
		return store.Throttle{}, mapErr(err)
	}
	th.FirstAt, th.LastAt = th.FirstAt.UTC(), th.LastAt.UTC()
	return th, nil
}

// GetThrottle returns key's counter as stored, whatever its age; a key
// never seen (or cleared) gives a zero Throttle.
func (db *DB) GetThrottle(ctx context.Context, key string) (store.Throttle, error) {
	th, err := scanThrottle(db.pool.QueryRow(ctx, selectThrottle, key))
	return th, mapErr(err)
}

const selectThrottle = `SELECT failures, first_at, last_at FROM throttles WHERE key = $1`

// scanThrottle reads a row of selectThrottle: no row is a zero Throttle.
func scanThrottle(row pgx.Row) (store.Throttle, error) {
	var th store.Throttle
	err := row.Scan(&th.Failures, &th.FirstAt, &th.LastAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Throttle{}, nil
	}
	if err != nil {
		return store.Throttle{}, err
	}
	th.FirstAt, th.LastAt = th.FirstAt.UTC(), th.LastAt.UTC()
	return th, nil
}

// ClearThrottle forgets key's failures. Clearing an unknown key is not an error.
func (db *DB) ClearThrottle(ctx context.Context, key string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM throttles WHERE key = $1`, key)
	return mapErr(err)
}

// GetSignInState reads the counters of keys and the user with email in one
// batch: one round trip and one transaction, where reading them one by one
// took a round trip each.
func (db *DB) GetSignInState(ctx context.Context, envID, email string, keys ...string) ([]store.Throttle, *store.User, error) {
	b := &pgx.Batch{}
	ths := make([]store.Throttle, len(keys))
	for i, key := range keys {
		b.Queue(selectThrottle, key).QueryRow(func(row pgx.Row) error {
			var err error
			ths[i], err = scanThrottle(row)
			return err
		})
	}
	var user *store.User
	if email != "" {
		b.Queue(selectUserByEmail, envID, email).QueryRow(func(row pgx.Row) error {
			var err error
			user, err = orNil(scanUser(row))
			return err
		})
	}
	if err := db.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, mapErr(err)
	}
	return ths, user, nil
}
