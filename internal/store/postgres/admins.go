package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

const adminColumns = `id, email, password_hash, totp_secret, created_at, updated_at, last_sign_in_at`

func scanAdmin(row pgx.Row) (*store.Admin, error) {
	var a store.Admin
	var lastSignIn *time.Time
	if err := row.Scan(&a.ID, &a.Email, &a.PasswordHash, &a.TOTPSecret, &a.CreatedAt, &a.UpdatedAt, &lastSignIn); err != nil {
		return nil, mapErr(err)
	}
	a.CreatedAt, a.UpdatedAt, a.LastSignInAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC(), utcPtr(lastSignIn)
	return &a, nil
}

// CreateAdmin inserts a. ErrConflict if its ID or email exists.
func (db *DB) CreateAdmin(ctx context.Context, a *store.Admin) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO admins (`+adminColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		a.ID, a.Email, a.PasswordHash, a.TOTPSecret, ts(a.CreatedAt), ts(a.UpdatedAt), tsPtr(a.LastSignInAt))
	return mapErr(err)
}

// GetAdmin returns an admin by ID.
func (db *DB) GetAdmin(ctx context.Context, id string) (*store.Admin, error) {
	return scanAdmin(db.pool.QueryRow(ctx, `SELECT `+adminColumns+` FROM admins WHERE id = $1`, id))
}

// GetAdminByEmail returns an admin by normalised email.
func (db *DB) GetAdminByEmail(ctx context.Context, email string) (*store.Admin, error) {
	return scanAdmin(db.pool.QueryRow(ctx, `SELECT `+adminColumns+` FROM admins WHERE email = $1`, email))
}

// ListAdmins returns every admin, oldest first.
func (db *DB) ListAdmins(ctx context.Context) ([]store.Admin, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+adminColumns+` FROM admins ORDER BY id`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.Admin
	for rows.Next() {
		a, err := scanAdmin(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, mapErr(rows.Err())
}

// UpdateAdmin applies fn to an admin atomically, holding the row's lock
// from the read to the commit. The ID and creation time cannot be changed;
// the admin returned is the one stored. ErrNotFound if absent; ErrConflict
// if the new email is taken.
func (db *DB) UpdateAdmin(ctx context.Context, id string, fn func(*store.Admin) error) (*store.Admin, error) {
	var out *store.Admin
	err := db.tx(ctx, func(tx pgx.Tx) error {
		a, err := scanAdmin(tx.QueryRow(ctx, `SELECT `+adminColumns+` FROM admins WHERE id = $1 FOR NO KEY UPDATE`, id))
		if err != nil {
			return err
		}
		created := a.CreatedAt
		if err := fn(a); err != nil {
			return err
		}
		a.ID, a.CreatedAt = id, created
		a.LastSignInAt, a.UpdatedAt = tsPtr(a.LastSignInAt), ts(a.UpdatedAt)
		_, err = tx.Exec(ctx, `UPDATE admins SET email = $1, password_hash = $2, totp_secret = $3, updated_at = $4,
			last_sign_in_at = $5 WHERE id = $6`,
			a.Email, a.PasswordHash, a.TOTPSecret, a.UpdatedAt, a.LastSignInAt, id)
		if err != nil {
			return mapErr(err)
		}
		out = a
		return nil
	})
	return out, err
}

const adminTokenColumns = `hash, admin_id, purpose, created_at, expires_at, used_at`

func scanAdminToken(row pgx.Row) (*store.AdminToken, error) {
	var t store.AdminToken
	var used *time.Time
	if err := row.Scan(&t.Hash, &t.AdminID, &t.Purpose, &t.CreatedAt, &t.ExpiresAt, &used); err != nil {
		return nil, mapErr(err)
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC(), utcPtr(used)
	return &t, nil
}

// CreateAdminToken inserts t. ErrConflict if its hash exists.
func (db *DB) CreateAdminToken(ctx context.Context, t *store.AdminToken) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO admin_tokens (`+adminTokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.Hash, t.AdminID, t.Purpose, ts(t.CreatedAt), ts(t.ExpiresAt), tsPtr(t.UsedAt))
	return mapErr(err)
}

// ConsumeAdminToken marks the token used at now and returns it as it was
// before, holding the row's lock from the read to the commit, so of
// concurrent consumers only the first succeeds. A used token is returned
// as stored, with ErrAlreadyUsed.
func (db *DB) ConsumeAdminToken(ctx context.Context, hash []byte, now time.Time) (*store.AdminToken, error) {
	var out *store.AdminToken
	err := db.tx(ctx, func(tx pgx.Tx) error {
		t, err := scanAdminToken(tx.QueryRow(ctx, `SELECT `+adminTokenColumns+` FROM admin_tokens WHERE hash = $1 FOR NO KEY UPDATE`, hash))
		if err != nil {
			return err
		}
		out = t
		if t.UsedAt != nil {
			return store.ErrAlreadyUsed
		}
		_, err = tx.Exec(ctx, `UPDATE admin_tokens SET used_at = $1 WHERE hash = $2`, ts(now), hash)
		return mapErr(err)
	})
	if err != nil && !errors.Is(err, store.ErrAlreadyUsed) {
		return nil, err
	}
	return out, err
}

const adminSessionColumns = `id, hash, admin_id, created_at, last_seen_at, expires_at, ended_at`

// CreateAdminSession inserts s. ErrConflict if its ID or hash exists.
func (db *DB) CreateAdminSession(ctx context.Context, s *store.AdminSession) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO admin_sessions (`+adminSessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		s.ID, s.Hash, s.AdminID, ts(s.CreatedAt), ts(s.LastSeenAt), ts(s.ExpiresAt), tsPtr(s.EndedAt))
	return mapErr(err)
}

// GetAdminSessionByHash returns the admin session whose cookie token hashes
// to hash, ended or expired or not.
func (db *DB) GetAdminSessionByHash(ctx context.Context, hash []byte) (*store.AdminSession, error) {
	var s store.AdminSession
	var ended *time.Time
	err := db.pool.QueryRow(ctx, `SELECT `+adminSessionColumns+` FROM admin_sessions WHERE hash = $1`, hash).
		Scan(&s.ID, &s.Hash, &s.AdminID, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &ended)
	if err != nil {
		return nil, mapErr(err)
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.EndedAt = s.CreatedAt.UTC(), s.LastSeenAt.UTC(), s.ExpiresAt.UTC(), utcPtr(ended)
	return &s, nil
}

// TouchAdminSession moves LastSeenAt forward to at (never back).
// ErrNotFound if absent.
func (db *DB) TouchAdminSession(ctx context.Context, id string, at time.Time) error {
	return rowsAffected(db.pool.Exec(ctx, `UPDATE admin_sessions SET last_seen_at = greatest(last_seen_at, $1) WHERE id = $2`, ts(at), id))
}

// EndAdminSession marks an admin session ended, keeping the first end
// time. ErrNotFound if absent.
func (db *DB) EndAdminSession(ctx context.Context, id string, at time.Time) error {
	return rowsAffected(db.pool.Exec(ctx, `UPDATE admin_sessions SET ended_at = coalesce(ended_at, $1) WHERE id = $2`, ts(at), id))
}
