package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

const userColumns = `id, environment_id, email, email_verified, first_name, last_name, name,
	profile_picture_url, locale, external_id, metadata, password_hash, last_sign_in_at, created_at, updated_at`

// userRow holds the scan targets of userColumns.
type userRow struct {
	u          store.User
	meta       []byte
	lastSignIn *time.Time
}

func (r *userRow) dest() []any {
	u := &r.u
	return []any{&u.ID, &u.EnvironmentID, &u.Email, &u.EmailVerified, &u.FirstName, &u.LastName, &u.Name,
		&u.ProfilePictureURL, &u.Locale, &u.ExternalID, &r.meta, &u.PasswordHash, &r.lastSignIn, &u.CreatedAt, &u.UpdatedAt}
}

func (r *userRow) value() (*store.User, error) {
	u := r.u
	if err := json.Unmarshal(r.meta, &u.Metadata); err != nil {
		return nil, fmt.Errorf("user %s: metadata: %w", u.ID, err)
	}
	if u.Metadata == nil {
		u.Metadata = map[string]string{}
	}
	u.LastSignInAt = utcPtr(r.lastSignIn)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return &u, nil
}

func scanUser(row pgx.Row) (*store.User, error) {
	var r userRow
	if err := row.Scan(r.dest()...); err != nil {
		return nil, mapErr(err)
	}
	return r.value()
}

func metaJSON(m map[string]string) json.RawMessage {
	if m == nil {
		m = map[string]string{}
	}
	b, _ := json.Marshal(m)
	return b
}

// userInsertColumns are userColumns and the lowercased names search reads.
const userInsertColumns = userColumns + `, first_name_lower, last_name_lower, name_lower`

const insertUser = `INSERT INTO users (` + userInsertColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`

func userArgs(u *store.User) []any {
	return []any{u.ID, u.EnvironmentID, u.Email, u.EmailVerified, u.FirstName, u.LastName, u.Name,
		u.ProfilePictureURL, u.Locale, u.ExternalID, metaJSON(u.Metadata), u.PasswordHash,
		tsPtr(u.LastSignInAt), ts(u.CreatedAt), ts(u.UpdatedAt),
		searchKey(u.FirstName), searchKey(u.LastName), searchKey(u.Name)}
}

// searchKey is a name as user search compares it: lowercased by Go, the
// same way whatever the database's locale, or NULL.
func searchKey(s *string) *string {
	if s == nil {
		return nil
	}
	v := strings.ToLower(*s)
	return &v
}

// prefixEnd returns the least string greater than every string that starts
// with prefix, in code-point order (which is bytewise order of UTF-8, the
// "C" collation), so that "starts with prefix" is the range [prefix, end).
// ok is false when no string bounds the range (prefix is empty or all
// U+10FFFF). prefix must be valid UTF-8.
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
// that the database's lower() folded differently from searchKey (non-ASCII
// letters, depending on the locale).
func lowerUserNames(ctx context.Context, tx pgx.Tx) error {
	rows, _ := tx.Query(ctx, `SELECT id, first_name, last_name, name, first_name_lower, last_name_lower, name_lower
		FROM users WHERE first_name IS NOT NULL OR last_name IS NOT NULL OR name IS NOT NULL`)
	var id string
	var names, lowered [3]*string
	var fix [][]any
	_, err := pgx.ForEachRow(rows, []any{&id, &names[0], &names[1], &names[2], &lowered[0], &lowered[1], &lowered[2]}, func() error {
		args := make([]any, 0, 4)
		differ := false
		for i, n := range names {
			k := searchKey(n)
			args = append(args, k)
			if k != nil && (lowered[i] == nil || *k != *lowered[i]) {
				differ = true
			}
		}
		if differ {
			fix = append(fix, append(args, id))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, args := range fix {
		if _, err := tx.Exec(ctx, `UPDATE users SET first_name_lower = $1, last_name_lower = $2, name_lower = $3 WHERE id = $4`,
			args...); err != nil {
			return err
		}
	}
	return nil
}

// CreateUser inserts u and events (see store.Users): one pipelined
// batch, so one round trip and one implicit transaction.
func (db *DB) CreateUser(ctx context.Context, u *store.User, events ...*store.Event) error {
	if len(events) == 0 {
		_, err := db.pool.Exec(ctx, insertUser, userArgs(u)...)
		return mapErr(err)
	}
	b := &pgx.Batch{}
	b.Queue(insertUser, userArgs(u)...)
	for _, e := range events {
		b.Queue(insertEventSQL, eventArgs(e)...)
	}
	return mapErr(db.pool.SendBatch(ctx, b).Close())
}

// GetUser returns a user by ID.
func (db *DB) GetUser(ctx context.Context, envID, id string) (*store.User, error) {
	return scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE environment_id = $1 AND id = $2`, envID, id))
}

// GetUserByEmail returns a user by normalised email.
func (db *DB) GetUserByEmail(ctx context.Context, envID, email string) (*store.User, error) {
	return scanUser(db.pool.QueryRow(ctx, selectUserByEmail, envID, email))
}

const selectUserByEmail = `SELECT ` + userColumns + ` FROM users WHERE environment_id = $1 AND email = $2`

// GetUserByExternalID returns a user by external ID.
func (db *DB) GetUserByExternalID(ctx context.Context, envID, externalID string) (*store.User, error) {
	return scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE environment_id = $1 AND external_id = $2`, envID, externalID))
}

// ListUsers returns one keyset page of an environment's users.
func (db *DB) ListUsers(ctx context.Context, envID string, f store.UserFilter, p store.ListParams) (store.Page[store.User], error) {
	if strings.ContainsRune(f.Search, 0) {
		// No stored text holds NUL (PostgreSQL refuses it), so nothing matches.
		return store.MakePage([]store.User(nil), func(u store.User) string { return u.ID }, p), nil
	}
	q, args := listUsersQuery(envID, f, p.Scan())
	if f.Search != "" {
		// Plan each search for its own prefix, never with a cached generic
		// plan: whether the prefix indexes or the ID index is the better
		// start depends on how many users the prefix matches.
		args = append([]any{pgx.QueryExecModeExec}, args...)
	}
	return queryPage(ctx, db, p, scanUser, func(u store.User) string { return u.ID }, q, args...)
}

// listUsersQuery builds ListUsers' query. Without a search it walks the
// (environment_id, id) index from the cursor. A search is an OR of one
// range per indexed column, [q, prefixEnd(q)) on the lowercased query in
// the "C" collation, which PostgreSQL answers with a BitmapOr of index
// range scans when the prefix is selective. No LIKE is involved: "%", "_"
// and "\" in the query are ordinary characters.
func listUsersQuery(envID string, f store.UserFilter, s store.Scan) (string, []any) {
	q := `SELECT ` + userColumns + ` FROM users WHERE environment_id = $1`
	args := []any{envID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Email != "" {
		q += ` AND email = ` + arg(f.Email)
	}
	if f.Search != "" {
		lo := strings.ToLower(f.Search)
		loArg, hiArg := arg(lo), ""
		if hi, ok := prefixEnd(lo); ok {
			hiArg = arg(hi)
		}
		var terms []string
		for _, col := range []string{`email COLLATE "C"`, "first_name_lower", "last_name_lower", "name_lower"} {
			t := col + ` >= ` + loArg
			if hiArg != "" {
				t += ` AND ` + col + ` < ` + hiArg
			}
			terms = append(terms, "("+t+")")
		}
		q += ` AND (` + strings.Join(terms, " OR ") + `)`
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
	return q, args
}

// UpdateUser applies fn to a user atomically, holding the row's lock from
// the read to the commit. The ID, environment and creation time cannot be
// changed; the user returned is the one stored.
func (db *DB) UpdateUser(ctx context.Context, envID, id string, fn func(*store.User) error) (*store.User, error) {
	var u *store.User
	read := func(b *pgx.Batch) {
		b.Queue(`SELECT `+userColumns+` FROM users WHERE environment_id = $1 AND id = $2 FOR NO KEY UPDATE`, envID, id).
			QueryRow(func(row pgx.Row) (err error) {
				u, err = scanUser(row)
				return err
			})
	}
	err := db.readModifyWrite(ctx, read, func(b *pgx.Batch) error {
		created := u.CreatedAt
		if err := fn(u); err != nil {
			return err
		}
		u.ID, u.EnvironmentID, u.CreatedAt = id, envID, created
		u.LastSignInAt, u.UpdatedAt = tsPtr(u.LastSignInAt), ts(u.UpdatedAt)
		if u.Metadata == nil {
			u.Metadata = map[string]string{}
		}
		b.Queue(`UPDATE users SET email = $1, email_verified = $2, first_name = $3, last_name = $4, name = $5,
			profile_picture_url = $6, locale = $7, external_id = $8, metadata = $9, password_hash = $10, last_sign_in_at = $11,
			updated_at = $12, first_name_lower = $13, last_name_lower = $14, name_lower = $15
			WHERE environment_id = $16 AND id = $17`,
			u.Email, u.EmailVerified, u.FirstName, u.LastName, u.Name, u.ProfilePictureURL, u.Locale, u.ExternalID,
			metaJSON(u.Metadata), u.PasswordHash, u.LastSignInAt, u.UpdatedAt,
			searchKey(u.FirstName), searchKey(u.LastName), searchKey(u.Name), envID, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// DeleteUser removes a user.
func (db *DB) DeleteUser(ctx context.Context, envID, id string) error {
	return rowsAffected(db.pool.Exec(ctx, `DELETE FROM users WHERE environment_id = $1 AND id = $2`, envID, id))
}
