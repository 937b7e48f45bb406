package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

// lockEnvironment takes the environment's row lock for the rest of tx, so
// changes to its default redirects queue behind one another. A missing
// environment is not an error here; the writes that follow report it.
// NO KEY UPDATE still lets rows that reference the environment be inserted.
func lockEnvironment(ctx context.Context, tx pgx.Tx, envID string) error {
	_, err := tx.Exec(ctx, `SELECT 1 FROM environments WHERE id = $1 FOR NO KEY UPDATE`, envID)
	return mapErr(err)
}

// AddRedirect inserts r, clearing any previous default of its kind first
// when r is the new default.
func (db *DB) AddRedirect(ctx context.Context, r *store.Redirect) error {
	const insert = `INSERT INTO redirects (id, environment_id, kind, uri, is_default, created_at) VALUES ($1, $2, $3, $4, $5, $6)`
	args := []any{r.ID, r.EnvironmentID, string(r.Kind), r.URI, r.Default, ts(r.CreatedAt)}
	if !r.Default {
		_, err := db.pool.Exec(ctx, insert, args...)
		return mapErr(err)
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockEnvironment(ctx, tx, r.EnvironmentID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE redirects SET is_default = false WHERE environment_id = $1 AND kind = $2 AND is_default`,
			r.EnvironmentID, string(r.Kind)); err != nil {
			return mapErr(err)
		}
		_, err := tx.Exec(ctx, insert, args...)
		return mapErr(err)
	})
}

// ListRedirects returns an environment's redirects of one kind, oldest first.
func (db *DB) ListRedirects(ctx context.Context, envID string, kind store.RedirectKind) ([]store.Redirect, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, environment_id, kind, uri, is_default, created_at FROM redirects
		WHERE environment_id = $1 AND kind = $2 ORDER BY id`, envID, string(kind))
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.Redirect
	for rows.Next() {
		var r store.Redirect
		var created time.Time
		if err := rows.Scan(&r.ID, &r.EnvironmentID, &r.Kind, &r.URI, &r.Default, &created); err != nil {
			return nil, mapErr(err)
		}
		r.CreatedAt = created.UTC()
		out = append(out, r)
	}
	return out, mapErr(rows.Err())
}

// RemoveRedirect deletes one redirect by URI.
func (db *DB) RemoveRedirect(ctx context.Context, envID string, kind store.RedirectKind, uri string) error {
	return rowsAffected(db.pool.Exec(ctx, `DELETE FROM redirects WHERE environment_id = $1 AND kind = $2 AND uri = $3`,
		envID, string(kind), uri))
}

// SetDefaultRedirect makes uri the only default of its kind.
func (db *DB) SetDefaultRedirect(ctx context.Context, envID string, kind store.RedirectKind, uri string) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockEnvironment(ctx, tx, envID); err != nil {
			return err
		}
		var id string
		err := tx.QueryRow(ctx, `SELECT id FROM redirects WHERE environment_id = $1 AND kind = $2 AND uri = $3 FOR UPDATE`,
			envID, string(kind), uri).Scan(&id)
		if err != nil {
			return mapErr(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE redirects SET is_default = false WHERE environment_id = $1 AND kind = $2 AND is_default AND id <> $3`,
			envID, string(kind), id); err != nil {
			return mapErr(err)
		}
		_, err = tx.Exec(ctx, `UPDATE redirects SET is_default = true WHERE id = $1`, id)
		return mapErr(err)
	})
}
