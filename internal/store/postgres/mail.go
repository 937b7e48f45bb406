package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

const emailColumns = `id, environment_id, from_name, from_address, to_address, subject, text_body, html_body, status,
	attempts, next_attempt_at, lease_until, claimed_by, last_error, created_at, sent_at`

func scanEmail(row pgx.Row) (*store.Email, error) {
	var e store.Email
	var envID *string
	var lease, sent *time.Time
	err := row.Scan(&e.ID, &envID, &e.FromName, &e.FromAddress, &e.To, &e.Subject, &e.Text, &e.HTML, &e.Status,
		&e.Attempts, &e.NextAttemptAt, &lease, &e.ClaimedBy, &e.LastError, &e.CreatedAt, &sent)
	if err != nil {
		return nil, mapErr(err)
	}
	if envID != nil {
		e.EnvironmentID = *envID
	}
	e.NextAttemptAt, e.CreatedAt = e.NextAttemptAt.UTC(), e.CreatedAt.UTC()
	e.LeaseUntil, e.SentAt = utcPtr(lease), utcPtr(sent)
	return &e, nil
}

// EnqueueEmail inserts e as "pending" (whatever its Status), due at
// e.NextAttemptAt; an empty EnvironmentID is stored as NULL (server-wide
// mail). ErrConflict if its ID exists.
func (db *DB) EnqueueEmail(ctx context.Context, e *store.Email) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO emails (`+emailColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10, NULL, '', $11, $12, NULL)`,
		e.ID, textOrNil(e.EnvironmentID), e.FromName, e.FromAddress, e.To, e.Subject, e.Text, e.HTML,
		e.Attempts, ts(e.NextAttemptAt), e.LastError, ts(e.CreatedAt))
	return mapErr(err)
}

// ClaimEmails claims up to n due emails, oldest due first, in one
// transaction: SELECT … FOR UPDATE SKIP LOCKED picks rows no concurrent
// claimer holds (and re-checks the condition on rows another claimer
// changed meanwhile), then UPDATE takes them.
func (db *DB) ClaimEmails(ctx context.Context, now time.Time, n int, lease time.Duration, worker string) ([]store.Email, error) {
	if n <= 0 {
		return nil, nil
	}
	var out []store.Email
	err := db.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM emails
			WHERE (status = 'pending' AND next_attempt_at <= $1) OR (status = 'sending' AND lease_until <= $1)
			ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED`, ts(now), n)
		if err != nil {
			return mapErr(err)
		}
		emailIDs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return mapErr(err)
		}
		if len(emailIDs) == 0 {
			return nil
		}
		rows, err = tx.Query(ctx, `UPDATE emails SET status = 'sending', lease_until = $1, claimed_by = $2
			WHERE id = ANY($3) RETURNING `+emailColumns, ts(now.Add(lease)), worker, emailIDs)
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
	slices.SortFunc(out, func(a, b store.Email) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// MarkEmailSent records a send at the given time and counts the attempt.
// ErrNotFound unless the email is "sending" and claimed by worker (a
// worker whose lease ran out and was taken over has lost its claim).
func (db *DB) MarkEmailSent(ctx context.Context, id, worker string, at time.Time) error {
	return rowsAffected(db.pool.Exec(ctx, `UPDATE emails SET status = 'sent', sent_at = $1, attempts = attempts + 1,
		lease_until = NULL WHERE id = $2 AND status = 'sending' AND claimed_by = $3`, ts(at), id, worker))
}

// MarkEmailFailed counts a failed attempt: the email is "pending" again,
// due at next, or "failed" if final. ErrNotFound unless worker holds the
// claim.
func (db *DB) MarkEmailFailed(ctx context.Context, id, worker string, next time.Time, lastError string, final bool) error {
	status := "pending"
	if final {
		status = "failed"
	}
	return rowsAffected(db.pool.Exec(ctx, `UPDATE emails SET status = $1, next_attempt_at = $2, last_error = $3,
		attempts = attempts + 1, lease_until = NULL WHERE id = $4 AND status = 'sending' AND claimed_by = $5`,
		status, ts(next), lastError, id, worker))
}

// ReleaseEmail returns a claimed email to "pending" with its attempts and
// due time unchanged. ErrNotFound unless worker holds the claim.
func (db *DB) ReleaseEmail(ctx context.Context, id, worker string) error {
	return rowsAffected(db.pool.Exec(ctx, `UPDATE emails SET status = 'pending', lease_until = NULL
		WHERE id = $1 AND status = 'sending' AND claimed_by = $2`, id, worker))
}

// GetEmail returns an email by ID.
func (db *DB) GetEmail(ctx context.Context, id string) (*store.Email, error) {
	return scanEmail(db.pool.QueryRow(ctx, `SELECT `+emailColumns+` FROM emails WHERE id = $1`, id))
}

// ListEmails returns one keyset page of an environment's emails (every
// environment's, and server-wide ones, when envID is "").
func (db *DB) ListEmails(ctx context.Context, envID string, p store.ListParams) (store.Page[store.Email], error) {
	s := p.Scan()
	q := `SELECT ` + emailColumns + ` FROM emails`
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if envID != "" {
		where = append(where, `environment_id = `+arg(envID))
	}
	if s.Cmp != "" {
		where = append(where, `id `+s.Cmp+` `+arg(s.Cursor))
	}
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	if s.Desc {
		q += ` ORDER BY id DESC`
	} else {
		q += ` ORDER BY id ASC`
	}
	q += ` LIMIT ` + arg(s.Limit)
	return queryPage(ctx, db, p, scanEmail, func(e store.Email) string { return e.ID }, q, args...)
}

const challengeColumns = `id, kind, environment_id, user_id, email, hash, attempts, created_at, expires_at, used_at, data`

func scanChallenge(row pgx.Row) (*store.Challenge, error) {
	var c store.Challenge
	var used *time.Time
	var data []byte
	err := row.Scan(&c.ID, &c.Kind, &c.EnvironmentID, &c.UserID, &c.Email, &c.Hash, &c.Attempts, &c.CreatedAt,
		&c.ExpiresAt, &used, &data)
	if err != nil {
		return nil, mapErr(err)
	}
	if err := json.Unmarshal(data, &c.Data); err != nil {
		return nil, fmt.Errorf("challenge %s: data: %w", c.ID, err)
	}
	if c.Data == nil {
		c.Data = map[string]string{}
	}
	c.CreatedAt, c.ExpiresAt, c.UsedAt = c.CreatedAt.UTC(), c.ExpiresAt.UTC(), utcPtr(used)
	return &c, nil
}

// CreateChallenge inserts c. ErrConflict if its ID, or its hash within its
// kind, exists.
func (db *DB) CreateChallenge(ctx context.Context, c *store.Challenge) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO challenges (`+challengeColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.ID, c.Kind, c.EnvironmentID, c.UserID, c.Email, c.Hash, c.Attempts, ts(c.CreatedAt), ts(c.ExpiresAt),
		tsPtr(c.UsedAt), metaJSON(c.Data))
	return mapErr(err)
}

// GetChallenge returns a challenge of an environment by ID.
func (db *DB) GetChallenge(ctx context.Context, envID, id string) (*store.Challenge, error) {
	return scanChallenge(db.pool.QueryRow(ctx, `SELECT `+challengeColumns+` FROM challenges
		WHERE environment_id = $1 AND id = $2`, envID, id))
}

// GetChallengeByHash returns the challenge of a kind with the given hash,
// used or expired or not.
func (db *DB) GetChallengeByHash(ctx context.Context, kind string, hash []byte) (*store.Challenge, error) {
	return scanChallenge(db.pool.QueryRow(ctx, `SELECT `+challengeColumns+` FROM challenges
		WHERE kind = $1 AND hash = $2`, kind, hash))
}

// LatestChallenge returns the newest unused challenge of a kind for an
// email in an environment, expired or not. ErrNotFound if there is none.
func (db *DB) LatestChallenge(ctx context.Context, envID, kind, email string) (*store.Challenge, error) {
	return scanChallenge(db.pool.QueryRow(ctx, `SELECT `+challengeColumns+` FROM challenges
		WHERE environment_id = $1 AND kind = $2 AND email = $3 ORDER BY id DESC LIMIT 1`,
		envID, kind, email))
}

// UpdateChallenge applies fn holding the row's lock from the read to the
// commit. fn may change the user, email, attempts, expiry, use time and
// data; the ID, kind, environment, hash and creation time stay. The
// challenge returned is the one stored.
func (db *DB) UpdateChallenge(ctx context.Context, envID, id string, fn func(*store.Challenge) error) (*store.Challenge, error) {
	var u challengeUpdate
	err := db.readModifyWrite(ctx, u.read(envID, id, ""), func(b *pgx.Batch) error {
		return u.write(b, fn)
	})
	if err != nil {
		return nil, err
	}
	return u.c, nil
}

// UseEmailVerification updates an email-verification challenge with fn
// and, if fn used it, verifies its user's email and records then, in one
// transaction (see store.Challenges).
func (db *DB) UseEmailVerification(ctx context.Context, envID, id string, fn func(*store.Challenge) error, then *store.SignIn) (*store.Challenge, *store.User, error) {
	var cu challengeUpdate
	var user *store.User
	var signedIn func() error
	err := db.readModifyWrite(ctx, cu.read(envID, id, store.ChallengeEmailVerification), func(b *pgx.Batch) error {
		if err := cu.write(b, fn); err != nil || !cu.used {
			return err
		}
		c := cu.c
		b.Queue(`UPDATE users SET email_verified = true, updated_at = $1
			WHERE environment_id = $2 AND id = $3 AND email = $4 RETURNING `+userColumns, c.UsedAt, envID, c.UserID, c.Email,
		).QueryRow(func(row pgx.Row) (err error) {
			user, err = orNil(scanUser(row))
			return err
		})
		if then != nil {
			if err := then.CheckFor(envID, c.UserID); err != nil {
				return err
			}
			// Guarded by the address: nothing of the sign-in is written
			// unless the statement before verified it.
			signedIn = queueStartSession(b, *then, c.Email)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if user != nil && signedIn != nil {
		// The verification is committed either way; a sign-in that did not
		// start (its request completed already) wrote nothing.
		return cu.c, user, signedIn()
	}
	return cu.c, user, nil
}

// UsePasswordReset updates a password-reset challenge with fn and, if fn
// used it, resets its user's password, ends the user's sessions and writes
// event, in one transaction (see store.Challenges).
func (db *DB) UsePasswordReset(ctx context.Context, envID, id string, fn func(*store.Challenge) error, passwordHash string, event *store.Event) (*store.Challenge, *store.User, error) {
	var cu challengeUpdate
	var user *store.User
	err := db.readModifyWrite(ctx, cu.read(envID, id, store.ChallengePasswordReset), func(b *pgx.Batch) error {
		if err := cu.write(b, fn); err != nil || !cu.used {
			return err
		}
		c := cu.c
		at := ts(*c.UsedAt)
		b.Queue(`UPDATE users SET password_hash = $1, email_verified = true, updated_at = $2
			WHERE environment_id = $3 AND id = $4 AND email = $5 RETURNING `+userColumns, passwordHash, at, envID, c.UserID, c.Email,
		).QueryRow(func(row pgx.Row) (err error) {
			user, err = orNil(scanUser(row))
			return err
		})
		// The rest only if that statement reset the password: the new
		// hash, salted afresh, is in the user's row only then.
		b.Queue(`UPDATE sessions SET ended_at = $1, updated_at = $1
			WHERE environment_id = $2 AND user_id = $3 AND ended_at IS NULL AND `+passwordIs(2), at, envID, c.UserID, passwordHash)
		b.Queue(`UPDATE browser_sessions SET ended_at = $1
			WHERE environment_id = $2 AND user_id = $3 AND ended_at IS NULL AND `+passwordIs(2), at, envID, c.UserID, passwordHash)
		b.Queue(insertEventIf(passwordIs(10)), append(eventArgs(event), envID, c.UserID, passwordHash)...)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return cu.c, user, nil
}

// passwordIs is the condition that a user's password hash is a given
// one, with the environment, user ID and hash as parameters $first,
// $first+1 and $first+2.
func passwordIs(first int) string {
	return fmt.Sprintf(`EXISTS (SELECT 1 FROM users WHERE environment_id = $%d AND id = $%d AND password_hash = $%d)`, first, first+1, first+2)
}

// challengeUpdate is a challenge's read-modify-write in readModifyWrite.
type challengeUpdate struct {
	c    *store.Challenge
	used bool // fn used the challenge
}

// read queues the locking read of a challenge (of kind, unless kind is "").
func (u *challengeUpdate) read(envID, id, kind string) func(*pgx.Batch) {
	return func(b *pgx.Batch) {
		b.Queue(`SELECT `+challengeColumns+` FROM challenges
			WHERE environment_id = $1 AND id = $2 AND ($3 = '' OR kind = $3) FOR NO KEY UPDATE`, envID, id, kind,
		).QueryRow(func(row pgx.Row) (err error) {
			u.c, err = scanChallenge(row)
			return err
		})
	}
}

// write calls fn on the challenge read and queues its write.
func (u *challengeUpdate) write(b *pgx.Batch, fn func(*store.Challenge) error) error {
	orig := *u.c
	c := u.c
	if err := fn(c); err != nil {
		return err
	}
	c.ID, c.Kind, c.EnvironmentID, c.Hash, c.CreatedAt = orig.ID, orig.Kind, orig.EnvironmentID, orig.Hash, orig.CreatedAt
	c.ExpiresAt, c.UsedAt = ts(c.ExpiresAt), tsPtr(c.UsedAt)
	if c.Data == nil {
		c.Data = map[string]string{}
	}
	b.Queue(`UPDATE challenges SET user_id = $1, email = $2, attempts = $3, expires_at = $4,
		used_at = $5, data = $6 WHERE id = $7`,
		c.UserID, c.Email, c.Attempts, c.ExpiresAt, c.UsedAt, metaJSON(c.Data), c.ID)
	u.used = orig.UsedAt == nil && c.UsedAt != nil
	return nil
}
