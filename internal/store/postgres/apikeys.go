package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

const apiKeyColumns = `id, environment_id, name, prefix, hash, created_at, last_used_at, revoked_at`

func scanAPIKey(row pgx.Row) (*store.APIKey, error) {
	var k store.APIKey
	var used, revoked *time.Time
	if err := row.Scan(&k.ID, &k.EnvironmentID, &k.Name, &k.Prefix, &k.Hash, &k.CreatedAt, &used, &revoked); err != nil {
		return nil, mapErr(err)
	}
	k.CreatedAt, k.LastUsedAt, k.RevokedAt = k.CreatedAt.UTC(), utcPtr(used), utcPtr(revoked)
	return &k, nil
}

// CreateAPIKey inserts key.
func (db *DB) CreateAPIKey(ctx context.Context, k *store.APIKey) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO api_keys (`+apiKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		k.ID, k.EnvironmentID, k.Name, k.Prefix, k.Hash, ts(k.CreatedAt), tsPtr(k.LastUsedAt), tsPtr(k.RevokedAt))
	return mapErr(err)
}

// GetAPIKeyByHash returns the key with the given secret hash.
func (db *DB) GetAPIKeyByHash(ctx context.Context, hash []byte) (*store.APIKey, error) {
	return scanAPIKey(db.pool.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = $1`, hash))
}

// ListAPIKeys returns an environment's keys, oldest first.
func (db *DB) ListAPIKeys(ctx context.Context, envID string) ([]store.APIKey, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE environment_id = $1 ORDER BY id`, envID)
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
	return rowsAffected(db.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE environment_id = $2 AND id = $3`,
		ts(at), envID, id))
}

// TouchAPIKey sets a key's last-used time.
func (db *DB) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	return rowsAffected(db.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = $1 WHERE id = $2`, ts(at), id))
}
