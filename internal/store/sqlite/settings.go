package sqlite

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/store"
)

// GetSetting returns the value stored under key.
func (db *DB) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	err := db.qr(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	return v, mapErr(err)
}

// PutSettingIfAbsent stores value unless key exists, and returns what is stored.
func (db *DB) PutSettingIfAbsent(ctx context.Context, key, value string) (string, error) {
	var v string
	err := db.wr(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET key = excluded.key RETURNING value`, key, value).Scan(&v)
	if err != nil {
		return "", mapErr(err)
	}
	return v, nil
}

var _ store.Settings = (*DB)(nil)
