package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

// GetSetting returns the value stored under key.
func (db *DB) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	err := db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	return v, mapErr(err)
}

// PutSettingIfAbsent stores value unless key exists, and returns what is
// stored. The insert waits for a concurrent insert of the same key to
// finish, and the read that follows it runs on a fresh snapshot, so a
// caller that loses a race sees the winner's value.
func (db *DB) PutSettingIfAbsent(ctx context.Context, key, value string) (string, error) {
	var v string
	err := db.pool.QueryRow(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO NOTHING RETURNING value`, key, value).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		err = db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	}
	if err != nil {
		return "", mapErr(err)
	}
	return v, nil
}

var _ store.Settings = (*DB)(nil)
