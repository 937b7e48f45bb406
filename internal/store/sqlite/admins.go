package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const adminColumns = `id, email, password_hash, totp_secret, created_at, updated_at, last_sign_in_at`

func scanAdmin(row interface{ Scan(...any) error }) (*store.Admin, error) {
	var a store.Admin
	var created, updated int64
	var lastSignIn sql.NullInt64
	if err := row.Scan(&a.ID, &a.Email, &a.PasswordHash, &a.TOTPSecret, &created, &updated, &lastSignIn); err != nil {
		return nil, mapErr(err)
	}
	a.CreatedAt, a.UpdatedAt, a.LastSignInAt = fromMS(created), fromMS(updated), fromMSPtr(lastSignIn)
	return &a, nil
}

// CreateAdmin inserts a. ErrConflict if its ID or email exists.
func (db *DB) CreateAdmin(ctx context.Context, a *store.Admin) error {
	_, err := db.ex(ctx, `INSERT INTO admins (`+adminColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Email, a.PasswordHash, a.TOTPSecret, ms(a.CreatedAt), ms(a.UpdatedAt), msPtr(a.LastSignInAt))
	return mapErr(err)
}

// GetAdmin returns an admin by ID.
func (db *DB) GetAdmin(ctx context.Context, id string) (*store.Admin, error) {
	return scanAdmin(db.qr(ctx, `SELECT `+adminColumns+` FROM admins WHERE id = ?`, id))
}

// GetAdminByEmail returns an admin by normalised email.
func (db *DB) GetAdminByEmail(ctx context.Context, email string) (*store.Admin, error) {
	return scanAdmin(db.qr(ctx, `SELECT `+adminColumns+` FROM admins WHERE email = ?`, email))
}

// ListAdmins returns every admin, oldest first.
func (db *DB) ListAdmins(ctx context.Context) ([]store.Admin, error) {
	rows, err := db.qrs(ctx, `SELECT `+adminColumns+` FROM admins ORDER BY id`)
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

// UpdateAdmin applies fn to an admin atomically. The ID and creation time
// cannot be changed. ErrNotFound if absent; ErrConflict if the new email is
// taken.
func (db *DB) UpdateAdmin(ctx context.Context, id string, fn func(*store.Admin) error) (*store.Admin, error) {
	var out *store.Admin
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		a, err := scanAdmin(db.txr(ctx, tx, `SELECT `+adminColumns+` FROM admins WHERE id = ?`, id))
		if err != nil {
			return err
		}
		created := a.CreatedAt
		if err := fn(a); err != nil {
			return err
		}
		a.ID, a.CreatedAt = id, created
		a.UpdatedAt = store.Truncate(a.UpdatedAt)
		if a.LastSignInAt != nil {
			t := store.Truncate(*a.LastSignInAt)
			a.LastSignInAt = &t
		}
		_, err = db.txe(ctx, tx, `UPDATE admins SET email = ?, password_hash = ?, totp_secret = ?, updated_at = ?,
			last_sign_in_at = ? WHERE id = ?`,
			a.Email, a.PasswordHash, a.TOTPSecret, ms(a.UpdatedAt), msPtr(a.LastSignInAt), id)
		if err != nil {
			return mapErr(err)
		}
		out = a
		return nil
	})
	return out, err
}

const adminTokenColumns = `hash, admin_id, purpose, created_at, expires_at, used_at`

func scanAdminToken(row interface{ Scan(...any) error }) (*store.AdminToken, error) {
	var t store.AdminToken
	var created, expires int64
	var used sql.NullInt64
	if err := row.Scan(&t.Hash, &t.AdminID, &t.Purpose, &created, &expires, &used); err != nil {
		return nil, mapErr(err)
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = fromMS(created), fromMS(expires), fromMSPtr(used)
	return &t, nil
}

// CreateAdminToken inserts t. ErrConflict if its hash exists.
func (db *DB) CreateAdminToken(ctx context.Context, t *store.AdminToken) error {
	_, err := db.ex(ctx, `INSERT INTO admin_tokens (`+adminTokenColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		t.Hash, t.AdminID, t.Purpose, ms(t.CreatedAt), ms(t.ExpiresAt), msPtr(t.UsedAt))
	return mapErr(err)
}

// ConsumeAdminToken marks the token used at now and returns it as it was
// before, in one write transaction. A used token is returned as stored,
// with ErrAlreadyUsed.
func (db *DB) ConsumeAdminToken(ctx context.Context, hash []byte, now time.Time) (*store.AdminToken, error) {
	var out *store.AdminToken
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		t, err := scanAdminToken(db.txr(ctx, tx, `SELECT `+adminTokenColumns+` FROM admin_tokens WHERE hash = ?`, hash))
		if err != nil {
			return err
		}
		out = t
		if t.UsedAt != nil {
			return store.ErrAlreadyUsed
		}
		_, err = db.txe(ctx, tx, `UPDATE admin_tokens SET used_at = ? WHERE hash = ?`, ms(now), hash)
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
	_, err := db.ex(ctx, `INSERT INTO admin_sessions (`+adminSessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.Hash, s.AdminID, ms(s.CreatedAt), ms(s.LastSeenAt), ms(s.ExpiresAt), msPtr(s.EndedAt))
	return mapErr(err)
}

// GetAdminSessionByHash returns the admin session whose cookie token hashes
// to hash, ended or expired or not.
func (db *DB) GetAdminSessionByHash(ctx context.Context, hash []byte) (*store.AdminSession, error) {
	var s store.AdminSession
	var created, seen, expires int64
	var ended sql.NullInt64
	err := db.qr(ctx, `SELECT `+adminSessionColumns+` FROM admin_sessions WHERE hash = ?`, hash).
		Scan(&s.ID, &s.Hash, &s.AdminID, &created, &seen, &expires, &ended)
	if err != nil {
		return nil, mapErr(err)
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.EndedAt = fromMS(created), fromMS(seen), fromMS(expires), fromMSPtr(ended)
	return &s, nil
}

// TouchAdminSession moves LastSeenAt forward to at (never back).
// ErrNotFound if absent.
func (db *DB) TouchAdminSession(ctx context.Context, id string, at time.Time) error {
	res, err := db.ex(ctx, `UPDATE admin_sessions SET last_seen_at = max(last_seen_at, ?) WHERE id = ?`, ms(at), id)
	return rowsAffected(res, err)
}

// EndAdminSession marks an admin session ended, keeping the first end
// time. ErrNotFound if absent.
func (db *DB) EndAdminSession(ctx context.Context, id string, at time.Time) error {
	res, err := db.ex(ctx, `UPDATE admin_sessions SET ended_at = coalesce(ended_at, ?) WHERE id = ?`, ms(at), id)
	return rowsAffected(res, err)
}
