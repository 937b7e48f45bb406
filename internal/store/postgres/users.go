package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

const userColumns = `id, environment_id, email, email_verified, first_name, last_name, name,
	profile_picture_url, locale, external_id, metadata, password_hash, last_sign_in_at, created_at, updated_at`

func scanUser(row pgx.Row) (*store.User, error) {
	var u store.User
	var meta []byte
	var lastSignIn *time.Time
	err := row.Scan(&u.ID, &u.EnvironmentID, &u.Email, &u.EmailVerified, &u.FirstName, &u.LastName, &u.Name,
		&u.ProfilePictureURL, &u.Locale, &u.ExternalID, &meta, &u.PasswordHash, &lastSignIn, &u.CreatedAt, &u.UpdatedAt)
	if err != nil {
		return nil, mapErr(err)
	}
	if err := json.Unmarshal(meta, &u.Metadata); err != nil {
		return nil, fmt.Errorf("user %s: metadata: %w", u.ID, err)
	}
	if u.Metadata == nil {
		u.Metadata = map[string]string{}
	}
	u.LastSignInAt = utcPtr(lastSignIn)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return &u, nil
}

func metaJSON(m map[string]string) json.RawMessage {
	if m == nil {
		m = map[string]string{}
	}
	b, _ := json.Marshal(m)
	return b
}

func userArgs(u *store.User) []any {
	return []any{u.ID, u.EnvironmentID, u.Email, u.EmailVerified, u.FirstName, u.LastName, u.Name,
		u.ProfilePictureURL, u.Locale, u.ExternalID, metaJSON(u.Metadata), u.PasswordHash,
		tsPtr(u.LastSignInAt), ts(u.CreatedAt), ts(u.UpdatedAt)}
}

// CreateUser inserts u.
func (db *DB) CreateUser(ctx context.Context, u *store.User) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO users (`+userColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`, userArgs(u)...)
	return mapErr(err)
}

// GetUser returns a user by ID.
func (db *DB) GetUser(ctx context.Context, envID, id string) (*store.User, error) {
	return scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE environment_id = $1 AND id = $2`, envID, id))
}

// GetUserByEmail returns a user by normalised email.
func (db *DB) GetUserByEmail(ctx context.Context, envID, email string) (*store.User, error) {
	return scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE environment_id = $1 AND email = $2`, envID, email))
}

// GetUserByExternalID returns a user by external ID.
func (db *DB) GetUserByExternalID(ctx context.Context, envID, externalID string) (*store.User, error) {
	return scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE environment_id = $1 AND external_id = $2`, envID, externalID))
}

// ListUsers returns one keyset page of an environment's users.
func (db *DB) ListUsers(ctx context.Context, envID string, f store.UserFilter, p store.ListParams) (store.Page[store.User], error) {
	s := p.Scan()
	q := `SELECT ` + userColumns + ` FROM users WHERE environment_id = $1`
	args := []any{envID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Email != "" {
		q += ` AND email = ` + arg(f.Email)
	}
	if s.Cmp != "" {
		q += ` AND id ` + s.Cmp + ` ` + arg(s.Cursor)
	}
	if s.Desc {
		q += ` ORDER BY id DESC`
	} else {
		q += ` ORDER BY id ASC`
	}
	q += ` LIMIT ` + arg(s.Limit)
	rows, err := db.pool.Query(ctx, q, args...)
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

// UpdateUser applies fn to a user atomically, holding the row's lock from
// the read to the commit. The ID, environment and creation time cannot be
// changed; the user returned is the one stored.
func (db *DB) UpdateUser(ctx context.Context, envID, id string, fn func(*store.User) error) (*store.User, error) {
	var out *store.User
	err := db.tx(ctx, func(tx pgx.Tx) error {
		u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE environment_id = $1 AND id = $2
			FOR NO KEY UPDATE`, envID, id))
		if err != nil {
			return err
		}
		created := u.CreatedAt
		if err := fn(u); err != nil {
			return err
		}
		u.ID, u.EnvironmentID, u.CreatedAt = id, envID, created
		u.LastSignInAt, u.UpdatedAt = tsPtr(u.LastSignInAt), ts(u.UpdatedAt)
		if u.Metadata == nil {
			u.Metadata = map[string]string{}
		}
		_, err = tx.Exec(ctx, `UPDATE users SET email = $1, email_verified = $2, first_name = $3, last_name = $4, name = $5,
			profile_picture_url = $6, locale = $7, external_id = $8, metadata = $9, password_hash = $10, last_sign_in_at = $11,
			updated_at = $12 WHERE environment_id = $13 AND id = $14`,
			u.Email, u.EmailVerified, u.FirstName, u.LastName, u.Name, u.ProfilePictureURL, u.Locale, u.ExternalID,
			metaJSON(u.Metadata), u.PasswordHash, u.LastSignInAt, u.UpdatedAt, envID, id)
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
	return rowsAffected(db.pool.Exec(ctx, `DELETE FROM users WHERE environment_id = $1 AND id = $2`, envID, id))
}
