package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const apiKeyColumns = `id, environment_id, name, prefix, hash, created_at, last_used_at, revoked_at`

func scanAPIKey(row interface{ Scan(...any) error }) (*store.APIKey, error) {
	var k store.APIKey
	var created int64
	var used, revoked sql.NullInt64
	if err := row.Scan(&k.ID, &k.EnvironmentID, &k.Name, &k.Prefix, &k.Hash, &created, &used, &revoked); err != nil {
		return nil, mapErr(err)
	}
	k.CreatedAt, k.LastUsedAt, k.RevokedAt = fromMS(created), fromMSPtr(used), fromMSPtr(revoked)
	return &k, nil
}

// CreateAPIKey inserts key.
func (db *DB) CreateAPIKey(ctx context.Context, k *store.APIKey) error {
	_, err := db.ex(ctx, `INSERT INTO api_keys (`+apiKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.EnvironmentID, k.Name, k.Prefix, k.Hash, ms(k.CreatedAt), msPtr(k.LastUsedAt), msPtr(k.RevokedAt))
	return mapErr(err)
}

// GetAPIKeyByHash returns the key with the given secret hash.
func (db *DB) GetAPIKeyByHash(ctx context.Context, hash []byte) (*store.APIKey, error) {
	return scanAPIKey(db.qr(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = ?`, hash))
}

// ListAPIKeys returns an environment's keys, oldest first.
func (db *DB) ListAPIKeys(ctx context.Context, envID string) ([]store.APIKey, error) {
	rows, err := db.qrs(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE environment_id = ? ORDER BY id`, envID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *k)
	}
	return out, mapErr(rows.Err())
}

// RevokeAPIKey marks a key revoked, keeping the first revocation time.
func (db *DB) RevokeAPIKey(ctx context.Context, envID, id string, at time.Time) error {
	res, err := db.ex(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE environment_id = ? AND id = ?`,
		ms(at), envID, id)
	return rowsAffected(res, err)
}

// TouchAPIKey sets a key's last-used time.
func (db *DB) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	res, err := db.ex(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, ms(at), id)
	return rowsAffected(res, err)
}

// rowsAffected returns ErrNotFound when an UPDATE or DELETE matched nothing.
func rowsAffected(res sql.Result, err error) error {
	if err != nil {
		return mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}
