package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/store"
)

const userColumns = `id, environment_id, email, email_verified, first_name, last_name, name,
	profile_picture_url, locale, external_id, metadata, password_hash, last_sign_in_at, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (*store.User, error) {
	var u store.User
	var first, last, name, pic, locale, ext sql.NullString
	var meta string
	var lastSignIn sql.NullInt64
	var created, updated int64
	err := row.Scan(&u.ID, &u.EnvironmentID, &u.Email, &u.EmailVerified, &first, &last, &name,
		&pic, &locale, &ext, &meta, &u.PasswordHash, &lastSignIn, &created, &updated)
	if err != nil {
		return nil, mapErr(err)
	}
	u.FirstName, u.LastName, u.Name = strPtr(first), strPtr(last), strPtr(name)
	u.ProfilePictureURL, u.Locale, u.ExternalID = strPtr(pic), strPtr(locale), strPtr(ext)
	if err := json.Unmarshal([]byte(meta), &u.Metadata); err != nil {
		return nil, fmt.Errorf("user %s: metadata: %w", u.ID, err)
	}
	if u.Metadata == nil {
		u.Metadata = map[string]string{}
	}
	u.LastSignInAt = fromMSPtr(lastSignIn)
	u.CreatedAt, u.UpdatedAt = fromMS(created), fromMS(updated)
	return &u, nil
}

func strPtr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

func metaJSON(m map[string]string) string {
	if m == nil {
		m = map[string]string{}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func userArgs(u *store.User) []any {
	return []any{u.ID, u.EnvironmentID, u.Email, u.EmailVerified, u.FirstName, u.LastName, u.Name,
		u.ProfilePictureURL, u.Locale, u.ExternalID, metaJSON(u.Metadata), u.PasswordHash,
		msPtr(u.LastSignInAt), ms(u.CreatedAt), ms(u.UpdatedAt)}
}

// CreateUser inserts u.
func (db *DB) CreateUser(ctx context.Context, u *store.User) error {
	_, err := db.writer.ExecContext(ctx, `INSERT INTO users (`+userColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, userArgs(u)...)
	return mapErr(err)
}

// GetUser returns a user by ID.
func (db *DB) GetUser(ctx context.Context, envID, id string) (*store.User, error) {
	return scanUser(db.reader.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE environment_id = ? AND id = ?`, envID, id))
}

// GetUserByEmail returns a user by normalised email.
func (db *DB) GetUserByEmail(ctx context.Context, envID, email string) (*store.User, error) {
	return scanUser(db.reader.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE environment_id = ? AND email = ?`, envID, email))
}

// GetUserByExternalID returns a user by external ID.
func (db *DB) GetUserByExternalID(ctx context.Context, envID, externalID string) (*store.User, error) {
	return scanUser(db.reader.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE environment_id = ? AND external_id = ?`, envID, externalID))
}

// ListUsers returns one keyset page of an environment's users.
func (db *DB) ListUsers(ctx context.Context, envID string, f store.UserFilter, p store.ListParams) (store.Page[store.User], error) {
	s := p.Scan()
	q := `SELECT ` + userColumns + ` FROM users WHERE environment_id = ?`
	args := []any{envID}
	if f.Email != "" {
		q += ` AND email = ?`
		args = append(args, f.Email)
	}
	if s.Cmp != "" {
		q += ` AND id ` + s.Cmp + ` ?`
		args = append(args, s.Cursor)
	}
	if s.Desc {
		q += ` ORDER BY id DESC`
	} else {
		q += ` ORDER BY id ASC`
	}
	q += ` LIMIT ?`
	args = append(args, s.Limit)
	rows, err := db.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return store.Page[store.User]{}, mapErr(err)
	}
	defer rows.Close()
	var users []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return store.Page[store.User]{}, err
		}
		users = append(users, *u)
	}
	if err := rows.Err(); err != nil {
		return store.Page[store.User]{}, mapErr(err)
	}
	return store.MakePage(users, func(u store.User) string { return u.ID }, p), nil
}

// UpdateUser applies fn to a user atomically. The ID, environment and
// creation time cannot be changed.
func (db *DB) UpdateUser(ctx context.Context, envID, id string, fn func(*store.User) error) (*store.User, error) {
	var out *store.User
	err := db.tx(ctx, func(tx *sql.Tx) error {
		u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE environment_id = ? AND id = ?`, envID, id))
		if err != nil {
			return err
		}
		created := u.CreatedAt
		if err := fn(u); err != nil {
			return err
		}
		u.ID, u.EnvironmentID, u.CreatedAt = id, envID, created
		u.UpdatedAt = store.Truncate(u.UpdatedAt)
		if u.LastSignInAt != nil {
			t := store.Truncate(*u.LastSignInAt)
			u.LastSignInAt = &t
		}
		if u.Metadata == nil {
			u.Metadata = map[string]string{}
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET email = ?, email_verified = ?, first_name = ?, last_name = ?, name = ?,
			profile_picture_url = ?, locale = ?, external_id = ?, metadata = ?, password_hash = ?, last_sign_in_at = ?, updated_at = ?
			WHERE environment_id = ? AND id = ?`,
			u.Email, u.EmailVerified, u.FirstName, u.LastName, u.Name, u.ProfilePictureURL, u.Locale, u.ExternalID,
			metaJSON(u.Metadata), u.PasswordHash, msPtr(u.LastSignInAt), ms(u.UpdatedAt), envID, id)
		if err != nil {
			return mapErr(err)
		}
		out = u
		return nil
	})
	return out, err
}

// DeleteUser removes a user.
func (db *DB) DeleteUser(ctx context.Context, envID, id string) error {
	res, err := db.writer.ExecContext(ctx, `DELETE FROM users WHERE environment_id = ? AND id = ?`, envID, id)
	return rowsAffected(res, err)
}
