package sqlite

import (
	"context"
	"database/sql"

	"github.com/gatehouse/gatehouse/internal/store"
)

// AddRedirect inserts r, clearing any previous default of its kind first
// when r is the new default.
func (db *DB) AddRedirect(ctx context.Context, r *store.Redirect) error {
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if r.Default {
			if _, err := db.txe(ctx, tx, `UPDATE redirects SET is_default = 0 WHERE environment_id = ? AND kind = ?`,
				r.EnvironmentID, string(r.Kind)); err != nil {
				return mapErr(err)
			}
		}
		_, err := db.txe(ctx, tx, `INSERT INTO redirects (id, environment_id, kind, uri, is_default, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			r.ID, r.EnvironmentID, string(r.Kind), r.URI, r.Default, ms(r.CreatedAt))
		return mapErr(err)
	})
}

// ListRedirects returns an environment's redirects of one kind, oldest first.
func (db *DB) ListRedirects(ctx context.Context, envID string, kind store.RedirectKind) ([]store.Redirect, error) {
	rows, err := db.qrs(ctx, `SELECT id, environment_id, kind, uri, is_default, created_at FROM redirects
		WHERE environment_id = ? AND kind = ? ORDER BY id`, envID, string(kind))
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.Redirect
	for rows.Next() {
		var r store.Redirect
		var created int64
		if err := rows.Scan(&r.ID, &r.EnvironmentID, &r.Kind, &r.URI, &r.Default, &created); err != nil {
			return nil, err
		}
		r.CreatedAt = fromMS(created)
		out = append(out, r)
	}
	return out, mapErr(rows.Err())
}

// RemoveRedirect deletes one redirect by URI.
func (db *DB) RemoveRedirect(ctx context.Context, envID string, kind store.RedirectKind, uri string) error {
	res, err := db.ex(ctx, `DELETE FROM redirects WHERE environment_id = ? AND kind = ? AND uri = ?`,
		envID, string(kind), uri)
	return rowsAffected(res, err)
}

// SetDefaultRedirect makes uri the only default of its kind.
func (db *DB) SetDefaultRedirect(ctx context.Context, envID string, kind store.RedirectKind, uri string) error {
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var id string
		err := db.txr(ctx, tx, `SELECT id FROM redirects WHERE environment_id = ? AND kind = ? AND uri = ?`,
			envID, string(kind), uri).Scan(&id)
		if err != nil {
			return mapErr(err)
		}
		if _, err := db.txe(ctx, tx, `UPDATE redirects SET is_default = 0 WHERE environment_id = ? AND kind = ?`,
			envID, string(kind)); err != nil {
			return mapErr(err)
		}
		_, err = db.txe(ctx, tx, `UPDATE redirects SET is_default = 1 WHERE id = ?`, id)
		return mapErr(err)
	})
}
