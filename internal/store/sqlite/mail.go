package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const emailColumns = `id, environment_id, from_name, from_address, to_address, subject, text_body, html_body, status,
	attempts, next_attempt_at, lease_until, claimed_by, last_error, created_at, sent_at`

func scanEmail(row interface{ Scan(...any) error }) (*store.Email, error) {
	var e store.Email
	var envID sql.NullString
	var next, created int64
	var lease, sent sql.NullInt64
	err := row.Scan(&e.ID, &envID, &e.FromName, &e.FromAddress, &e.To, &e.Subject, &e.Text, &e.HTML, &e.Status,
		&e.Attempts, &next, &lease, &e.ClaimedBy, &e.LastError, &created, &sent)
	if err != nil {
		return nil, mapErr(err)
	}
	e.EnvironmentID = envID.String
	e.NextAttemptAt, e.CreatedAt = fromMS(next), fromMS(created)
	e.LeaseUntil, e.SentAt = fromMSPtr(lease), fromMSPtr(sent)
	return &e, nil
}

// EnqueueEmail inserts e as "pending" (whatever its Status), due at
// e.NextAttemptAt; an empty EnvironmentID is stored as NULL (server-wide
// mail). ErrConflict if its ID exists.
func (db *DB) EnqueueEmail(ctx context.Context, e *store.Email) error {
	_, err := db.ex(ctx, `INSERT INTO emails (`+emailColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, NULL, '', ?, ?, NULL)`,
		e.ID, textOrNil(e.EnvironmentID), e.FromName, e.FromAddress, e.To, e.Subject, e.Text, e.HTML,
		e.Attempts, ms(e.NextAttemptAt), e.LastError, ms(e.CreatedAt))
	return mapErr(err)
}

// ClaimEmails claims up to n due emails in one write transaction, oldest
// due first. SQLite has one writer, so claims never overlap.
func (db *DB) ClaimEmails(ctx context.Context, now time.Time, n int, lease time.Duration, worker string) ([]store.Email, error) {
	if n <= 0 {
		return nil, nil
	}
	var out []store.Email
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		rows, err := db.txq(ctx, tx, `UPDATE emails SET status = 'sending', lease_until = ?1, claimed_by = ?2
			WHERE id IN (SELECT id FROM emails
				WHERE (status = 'pending' AND next_attempt_at <= ?3) OR (status = 'sending' AND lease_until <= ?3)
				ORDER BY next_attempt_at, id LIMIT ?4)
			RETURNING `+emailColumns,
			ms(now.Add(lease)), worker, ms(now), n)
		if err != nil {
			return mapErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanEmail(rows)
			if err != nil {
				return err
			}
			out = append(out, *e)
		}
		return mapErr(rows.Err())
	})
	if err != nil {
		return nil, err
	}
	sortEmails(out)
	return out, nil
}

// sortEmails puts claimed emails in the order they fell due.
func sortEmails(es []store.Email) {
	slices.SortFunc(es, func(a, b store.Email) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// MarkEmailSent records a send at the given time and counts the attempt.
// ErrNotFound unless the email is "sending" and claimed by worker (a
// worker whose lease ran out and was taken over has lost its claim).
func (db *DB) MarkEmailSent(ctx context.Context, id, worker string, at time.Time) error {
	res, err := db.ex(ctx, `UPDATE emails SET status = 'sent', sent_at = ?, attempts = attempts + 1,
		lease_until = NULL WHERE id = ? AND status = 'sending' AND claimed_by = ?`, ms(at), id, worker)
	return rowsAffected(res, err)
}

// MarkEmailFailed counts a failed attempt: the email is "pending" again,
// due at next, or "failed" if final. ErrNotFound unless worker holds the
// claim.
func (db *DB) MarkEmailFailed(ctx context.Context, id, worker string, next time.Time, lastError string, final bool) error {
	status := "pending"
	if final {
		status = "failed"
	}
	res, err := db.ex(ctx, `UPDATE emails SET status = ?, next_attempt_at = ?, last_error = ?,
		attempts = attempts + 1, lease_until = NULL WHERE id = ? AND status = 'sending' AND claimed_by = ?`,
		status, ms(next), lastError, id, worker)
	return rowsAffected(res, err)
}

// ReleaseEmail returns a claimed email to "pending" with its attempts and
// due time unchanged. ErrNotFound unless worker holds the claim.
func (db *DB) ReleaseEmail(ctx context.Context, id, worker string) error {
	res, err := db.ex(ctx, `UPDATE emails SET status = 'pending', lease_until = NULL
		WHERE id = ? AND status = 'sending' AND claimed_by = ?`, id, worker)
	return rowsAffected(res, err)
}

// GetEmail returns an email by ID.
func (db *DB) GetEmail(ctx context.Context, id string) (*store.Email, error) {
	return scanEmail(db.qr(ctx, `SELECT `+emailColumns+` FROM emails WHERE id = ?`, id))
}

// ListEmails returns one keyset page of an environment's emails (every
// environment's, and server-wide ones, when envID is "").
func (db *DB) ListEmails(ctx context.Context, envID string, p store.ListParams) (store.Page[store.Email], error) {
	s := p.Scan()
	q := `SELECT ` + emailColumns + ` FROM emails`
	var where []string
	var args []any
	if envID != "" {
		where = append(where, `environment_id = ?`)
		args = append(args, envID)
	}
	if s.Cmp != "" {
		where = append(where, `id `+s.Cmp+` ?`)
		args = append(args, s.Cursor)
	}
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	if s.Desc {
		q += ` ORDER BY id DESC`
	} else {
		q += ` ORDER BY id ASC`
	}
	q += ` LIMIT ?`
	args = append(args, s.Limit)
	return queryPage(ctx, db, p, scanEmail, func(e store.Email) string { return e.ID }, q, args...)
}

const challengeColumns = `id, kind, environment_id, user_id, email, hash, attempts, created_at, expires_at, used_at, data`

func scanChallenge(row interface{ Scan(...any) error }) (*store.Challenge, error) {
	var c store.Challenge
	var created, expires int64
	var used sql.NullInt64
	var data string
	err := row.Scan(&c.ID, &c.Kind, &c.EnvironmentID, &c.UserID, &c.Email, &c.Hash, &c.Attempts, &created, &expires,
		&used, &data)
	if err != nil {
		return nil, mapErr(err)
	}
	if err := json.Unmarshal([]byte(data), &c.Data); err != nil {
		return nil, fmt.Errorf("challenge %s: data: %w", c.ID, err)
	}
	if c.Data == nil {
		c.Data = map[string]string{}
	}
	c.CreatedAt, c.ExpiresAt, c.UsedAt = fromMS(created), fromMS(expires), fromMSPtr(used)
	return &c, nil
}

// CreateChallenge inserts c. ErrConflict if its ID, or its hash within its
// kind, exists.
func (db *DB) CreateChallenge(ctx context.Context, c *store.Challenge) error {
	_, err := db.ex(ctx, `INSERT INTO challenges (`+challengeColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Kind, c.EnvironmentID, c.UserID, c.Email, c.Hash, c.Attempts, ms(c.CreatedAt), ms(c.ExpiresAt),
		msPtr(c.UsedAt), metaJSON(c.Data))
	return mapErr(err)
}

// GetChallenge returns a challenge of an environment by ID.
func (db *DB) GetChallenge(ctx context.Context, envID, id string) (*store.Challenge, error) {
	return scanChallenge(db.qr(ctx, `SELECT `+challengeColumns+` FROM challenges
		WHERE environment_id = ? AND id = ?`, envID, id))
}

// GetChallengeByHash returns the challenge of a kind with the given hash,
// used or expired or not.
func (db *DB) GetChallengeByHash(ctx context.Context, kind string, hash []byte) (*store.Challenge, error) {
	return scanChallenge(db.qr(ctx, `SELECT `+challengeColumns+` FROM challenges
		WHERE kind = ? AND hash = ?`, kind, hash))
}

// LatestChallenge returns the newest unused challenge of a kind for an
// email in an environment, expired or not. ErrNotFound if there is none.
func (db *DB) LatestChallenge(ctx context.Context, envID, kind, email string) (*store.Challenge, error) {
	return scanChallenge(db.qr(ctx, `SELECT `+challengeColumns+` FROM challenges
		WHERE environment_id = ? AND kind = ? AND email = ? ORDER BY id DESC LIMIT 1`,
		envID, kind, email))
}

// UpdateChallenge applies fn in one write transaction. fn may change the
// user, email, attempts, expiry, use time and data; the ID, kind,
// environment, hash and creation time stay. The challenge returned is the
// one stored.
func (db *DB) UpdateChallenge(ctx context.Context, envID, id string, fn func(*store.Challenge) error) (*store.Challenge, error) {
	var out *store.Challenge
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		c, _, err := db.updateChallenge(ctx, tx, envID, id, "", fn)
		out = c
		return err
	})
	return out, err
}

// UseEmailVerification updates an email-verification challenge with fn
// and, if fn used it, verifies its user's email and records then, in one
// transaction (see store.Challenges).
func (db *DB) UseEmailVerification(ctx context.Context, envID, id string, fn func(*store.Challenge) error, then *store.SignIn) (*store.Challenge, *store.User, error) {
	var c *store.Challenge
	var u *store.User
	var signInErr error
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var used bool
		var err error
		c, used, err = db.updateChallenge(ctx, tx, envID, id, store.ChallengeEmailVerification, fn)
		if err != nil || !used {
			return err
		}
		if then != nil {
			if err := then.CheckFor(envID, c.UserID); err != nil {
				return err
			}
		}
		u, err = orNil(scanUser(db.txr(ctx, tx, `UPDATE users SET email_verified = 1, updated_at = ?
			WHERE environment_id = ? AND id = ? AND email = ? RETURNING `+userColumns, ms(*c.UsedAt), envID, c.UserID, c.Email)))
		if err != nil || u == nil || then == nil {
			return err
		}
		// A completed request is found before the sign-in writes anything,
		// and the verification stands.
		if signInErr = db.startSession(ctx, tx, *then); errors.Is(signInErr, store.ErrAlreadyUsed) {
			return nil
		}
		return signInErr
	})
	if err != nil {
		return nil, nil, err
	}
	return c, u, signInErr
}

// UsePasswordReset updates a password-reset challenge with fn and, if fn
// used it, resets its user's password, ends the user's sessions and writes
// event, in one transaction (see store.Challenges).
func (db *DB) UsePasswordReset(ctx context.Context, envID, id string, fn func(*store.Challenge) error, passwordHash string, event *store.Event) (*store.Challenge, *store.User, error) {
	var c *store.Challenge
	var u *store.User
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var used bool
		var err error
		c, used, err = db.updateChallenge(ctx, tx, envID, id, store.ChallengePasswordReset, fn)
		if err != nil || !used {
			return err
		}
		u, err = orNil(scanUser(db.txr(ctx, tx, `UPDATE users SET password_hash = ?, email_verified = 1, updated_at = ?
			WHERE environment_id = ? AND id = ? AND email = ? RETURNING `+userColumns, passwordHash, ms(*c.UsedAt), envID, c.UserID, c.Email)))
		if err != nil || u == nil {
			return err
		}
		if err := db.endUserSessions(ctx, tx, envID, u.ID, *c.UsedAt); err != nil {
			return err
		}
		_, err = db.txe(ctx, tx, insertEventSQL, eventArgs(event)...)
		return mapErr(err)
	})
	if err != nil {
		return nil, nil, err
	}
	return c, u, nil
}

// updateChallenge reads a challenge (of kind, unless kind is ""), calls fn
// and writes the result, and reports whether fn used it.
func (db *DB) updateChallenge(ctx context.Context, tx *sql.Tx, envID, id, kind string, fn func(*store.Challenge) error) (*store.Challenge, bool, error) {
	c, err := scanChallenge(db.txr(ctx, tx, `SELECT `+challengeColumns+` FROM challenges
		WHERE environment_id = ? AND id = ? AND (? = '' OR kind = ?)`, envID, id, kind, kind))
	if err != nil {
		return nil, false, err
	}
	orig := *c
	if err := fn(c); err != nil {
		return nil, false, err
	}
	c.ID, c.Kind, c.EnvironmentID, c.Hash, c.CreatedAt = orig.ID, orig.Kind, orig.EnvironmentID, orig.Hash, orig.CreatedAt
	c.ExpiresAt, c.UsedAt = store.Truncate(c.ExpiresAt), truncPtr(c.UsedAt)
	if c.Data == nil {
		c.Data = map[string]string{}
	}
	_, err = db.txe(ctx, tx, `UPDATE challenges SET user_id = ?, email = ?, attempts = ?, expires_at = ?,
		used_at = ?, data = ? WHERE id = ?`,
		c.UserID, c.Email, c.Attempts, ms(c.ExpiresAt), msPtr(c.UsedAt), metaJSON(c.Data), id)
	if err != nil {
		return nil, false, mapErr(err)
	}
	return c, orig.UsedAt == nil && c.UsedAt != nil, nil
}

func truncPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := store.Truncate(*t)
	return &v
}
