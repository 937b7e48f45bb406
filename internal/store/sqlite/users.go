package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"

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

// userInsertColumns are userColumns and the lowercased names search reads.
const userInsertColumns = userColumns + `, first_name_lower, last_name_lower, name_lower`

const insertUser = `INSERT INTO users (` + userInsertColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func userArgs(u *store.User) []any {
	return []any{u.ID, u.EnvironmentID, u.Email, u.EmailVerified, u.FirstName, u.LastName, u.Name,
		u.ProfilePictureURL, u.Locale, u.ExternalID, metaJSON(u.Metadata), u.PasswordHash,
		msPtr(u.LastSignInAt), ms(u.CreatedAt), ms(u.UpdatedAt),
		searchKey(u.FirstName), searchKey(u.LastName), searchKey(u.Name)}
}

// searchKey is a name as user search compares it: lowercased by Go, the
// same way whatever the database's locale, or NULL.
func searchKey(s *string) any {
	if s == nil {
		return nil
	}
	return strings.ToLower(*s)
}

// prefixEnd returns the least string greater than every string that starts
// with prefix, in code-point order (which is bytewise order of UTF-8), so
// that "starts with prefix" is the range [prefix, end). ok is false when no
// string bounds the range (prefix is empty or all U+10FFFF). prefix must be
// valid UTF-8.
func prefixEnd(prefix string) (end string, ok bool) {
	r := []rune(prefix)
	for len(r) > 0 {
		last := r[len(r)-1]
		if last < unicode.MaxRune {
			next := last + 1
			if next >= 0xD800 && next <= 0xDFFF { // surrogates are not characters
				next = 0xE000
			}
			r[len(r)-1] = next
			return string(r), true
		}
		r = r[:len(r)-1]
	}
	return "", false
}

// lowerUserNames finishes migration 3: it rewrites the lowercased names
// that SQLite's ASCII-only lower() got wrong (non-ASCII letters) with
// searchKey.
func lowerUserNames(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, first_name, last_name, name, first_name_lower, last_name_lower, name_lower
		FROM users WHERE first_name IS NOT NULL OR last_name IS NOT NULL OR name IS NOT NULL`)
	if err != nil {
		return err
	}
	var fix [][]any
	for rows.Next() {
		var id string
		var names, lowered [3]sql.NullString
		if err := rows.Scan(&id, &names[0], &names[1], &names[2], &lowered[0], &lowered[1], &lowered[2]); err != nil {
			rows.Close()
			return err
		}
		args := make([]any, 0, 4)
		differ := false
		for i, n := range names {
			k := searchKey(strPtr(n))
			args = append(args, k)
			if k != nil && k.(string) != lowered[i].String {
				differ = true
			}
		}
		if differ {
			fix = append(fix, append(args, id))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, args := range fix {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET first_name_lower = ?, last_name_lower = ?, name_lower = ? WHERE id = ?`,
			args...); err != nil {
			return err
		}
	}
	return nil
}

// CreateUser inserts u and events in one transaction (see store.Users).
func (db *DB) CreateUser(ctx context.Context, u *store.User, events ...*store.Event) error {
	if len(events) == 0 {
		_, err := db.ex(ctx, insertUser, userArgs(u)...)
		return mapErr(err)
	}
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := db.txe(ctx, tx, insertUser, userArgs(u)...); err != nil {
			return mapErr(err)
		}
		for _, e := range events {
			if _, err := db.txe(ctx, tx, insertEventSQL, eventArgs(e)...); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
}

const userByIDSQL = `SELECT ` + userColumns + ` FROM users WHERE environment_id = ? AND id = ?`

// GetUser returns a user by ID.
func (db *DB) GetUser(ctx context.Context, envID, id string) (*store.User, error) {
	return scanUser(db.qr(ctx, userByIDSQL, envID, id))
}

// GetUserByEmail returns a user by normalised email.
func (db *DB) GetUserByEmail(ctx context.Context, envID, email string) (*store.User, error) {
	return scanUser(db.qr(ctx, `SELECT `+userColumns+` FROM users WHERE environment_id = ? AND email = ?`, envID, email))
}

// GetUserByExternalID returns a user by external ID.
func (db *DB) GetUserByExternalID(ctx context.Context, envID, externalID string) (*store.User, error) {
	return scanUser(db.qr(ctx, `SELECT `+userColumns+` FROM users WHERE environment_id = ? AND external_id = ?`, envID, externalID))
}

// ListUsers returns one keyset page of an environment's users.
func (db *DB) ListUsers(ctx context.Context, envID string, f store.UserFilter, p store.ListParams) (store.Page[store.User], error) {
	q, args := listUsersQuery(envID, f, p.Scan())
	return queryPage(ctx, db, p, scanUser, func(u store.User) string { return u.ID }, q, args...)
}

// listUsersQuery builds ListUsers' query. Without a search it walks the
// (environment_id, id) index from the cursor. A search is an OR of one
// range per indexed column, [q, prefixEnd(q)) on the lowercased query, so
// SQLite answers it with one index range scan per column (a multi-index
// OR) and sorts only the matches by ID. No LIKE is involved: "%", "_" and
// "\" in the query are ordinary characters.
func listUsersQuery(envID string, f store.UserFilter, s store.Scan) (string, []any) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "?" + strconv.Itoa(len(args))
	}
	env := arg(envID)
	var where []string
	if f.Search == "" || f.Email != "" {
		where = append(where, `environment_id = `+env)
	}
	if f.Email != "" {
		where = append(where, `email = `+arg(f.Email))
	}
	if f.Search != "" {
		// Each arm names the environment itself, and (unless an email pins
		// the user) nothing else does: otherwise SQLite, which has no
		// statistics unless ANALYZE ran, prefers walking the environment's
		// ID index and filtering every one of its users.
		lo := strings.ToLower(f.Search)
		loArg, hiArg := arg(lo), ""
		if hi, ok := prefixEnd(lo); ok {
			hiArg = arg(hi)
		}
		var arms []string
		for _, col := range []string{"email", "first_name_lower", "last_name_lower", "name_lower"} {
			a := `environment_id = ` + env + ` AND ` + col + ` >= ` + loArg
			if hiArg != "" {
				a += ` AND ` + col + ` < ` + hiArg
			}
			arms = append(arms, "("+a+")")
		}
		where = append(where, "("+strings.Join(arms, " OR ")+")")
	}
	q := `SELECT ` + userColumns + ` FROM users WHERE ` + strings.Join(where, " AND ")
	if s.Cmp != "" {
		q += ` AND id ` + s.Cmp + ` ` + arg(s.Cursor)
	}
	if s.Desc {
		q += ` ORDER BY id DESC`
	} else {
		q += ` ORDER BY id ASC`
	}
	q += ` LIMIT ` + arg(s.Limit)
	return q, args
}

// UpdateUser applies fn to a user atomically. The ID, environment and
// creation time cannot be changed.
func (db *DB) UpdateUser(ctx context.Context, envID, id string, fn func(*store.User) error) (*store.User, error) {
	var out *store.User
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		u, err := scanUser(db.txr(ctx, tx, userByIDSQL, envID, id))
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
		_, err = db.txe(ctx, tx, `UPDATE users SET email = ?, email_verified = ?, first_name = ?, last_name = ?, name = ?,
			profile_picture_url = ?, locale = ?, external_id = ?, metadata = ?, password_hash = ?, last_sign_in_at = ?, updated_at = ?,
			first_name_lower = ?, last_name_lower = ?, name_lower = ?
			WHERE environment_id = ? AND id = ?`,
			u.Email, u.EmailVerified, u.FirstName, u.LastName, u.Name, u.ProfilePictureURL, u.Locale, u.ExternalID,
			metaJSON(u.Metadata), u.PasswordHash, msPtr(u.LastSignInAt), ms(u.UpdatedAt),
			searchKey(u.FirstName), searchKey(u.LastName), searchKey(u.Name), envID, id)
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
	res, err := db.ex(ctx, `DELETE FROM users WHERE environment_id = ? AND id = ?`, envID, id)
	return rowsAffected(res, err)
}
