package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// RecordFailure adds one failure to key at now in a single upsert, so
// concurrent failures are all counted. A counter whose first failure is
// before now-window restarts at 1.
func (db *DB) RecordFailure(ctx context.Context, key string, now time.Time, window time.Duration) (store.Throttle, error) {
	var th store.Throttle
	var first, last int64
	err := db.wr(ctx, `INSERT INTO throttles (key, failures, first_at, last_at) VALUES (?1, 1, ?2, ?2)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN throttles.first_at < ?3 THEN 1 ELSE throttles.failures + 1 END,
			first_at = CASE WHEN throttles.first_at < ?3 THEN excluded.first_at ELSE throttles.first_at END,
			last_at = excluded.last_at
		RETURNING failures, first_at, last_at`, key, ms(now), ms(now.Add(-window))).Scan(&th.Failures, &first, &last)
	if err != nil {
		return store.Throttle{}, mapErr(err)
	}
	th.FirstAt, th.LastAt = fromMS(first), fromMS(last)
	return th, nil
}

// GetThrottle returns key's counter as stored, whatever its age; a key
// never seen (or cleared) gives a zero Throttle.
func (db *DB) GetThrottle(ctx context.Context, key string) (store.Throttle, error) {
	var th store.Throttle
	var first, last int64
	err := db.qr(ctx, `SELECT failures, first_at, last_at FROM throttles WHERE key = ?`, key).
		Scan(&th.Failures, &first, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Throttle{}, nil
	}
	if err != nil {
		return store.Throttle{}, mapErr(err)
	}
	th.FirstAt, th.LastAt = fromMS(first), fromMS(last)
	return th, nil
}

// ClearThrottle forgets key's failures. Clearing an unknown key is not an error.
func (db *DB) ClearThrottle(ctx context.Context, key string) error {
	_, err := db.ex(ctx, `DELETE FROM throttles WHERE key = ?`, key)
	return mapErr(err)
}

// GetSignInState reads the counters of keys and the user with email. On
// SQLite a read costs no round trip, so these are the single reads, one
// after the other.
func (db *DB) GetSignInState(ctx context.Context, envID, email string, keys ...string) ([]store.Throttle, *store.User, error) {
	ths := make([]store.Throttle, len(keys))
	for i, key := range keys {
		th, err := db.GetThrottle(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		ths[i] = th
	}
	if email == "" {
		return ths, nil, nil
	}
	user, err := db.GetUserByEmail(ctx, envID, email)
	if errors.Is(err, store.ErrNotFound) {
		return ths, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return ths, user, nil
}
