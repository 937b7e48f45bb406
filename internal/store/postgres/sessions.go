package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/store"
)

const sessionColumns = `id, environment_id, user_id, browser_session_id, client_id, auth_method, ip_address, user_agent,
	organization_id, created_at, updated_at, last_active_at, expires_at, ended_at`

func scanSession(row pgx.Row) (*store.Session, error) {
	var s store.Session
	var ended *time.Time
	err := row.Scan(&s.ID, &s.EnvironmentID, &s.UserID, &s.BrowserSessionID, &s.ClientID, &s.AuthMethod, &s.IPAddress,
		&s.UserAgent, &s.OrganizationID, &s.CreatedAt, &s.UpdatedAt, &s.LastActiveAt, &s.ExpiresAt, &ended)
	if err != nil {
		return nil, mapErr(err)
	}
	s.CreatedAt, s.UpdatedAt, s.LastActiveAt, s.ExpiresAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC(), s.LastActiveAt.UTC(), s.ExpiresAt.UTC()
	s.EndedAt = utcPtr(ended)
	return &s, nil
}

// CreateSession inserts s.
func (db *DB) CreateSession(ctx context.Context, s *store.Session) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO sessions (`+sessionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		s.ID, s.EnvironmentID, s.UserID, s.BrowserSessionID, s.ClientID, s.AuthMethod, s.IPAddress, s.UserAgent,
		s.OrganizationID, ts(s.CreatedAt), ts(s.UpdatedAt), ts(s.LastActiveAt), ts(s.ExpiresAt), tsPtr(s.EndedAt))
	return mapErr(err)
}

// GetSession returns a session of an environment.
func (db *DB) GetSession(ctx context.Context, envID, id string) (*store.Session, error) {
	return scanSession(db.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE environment_id = $1 AND id = $2`,
		envID, id))
}

// GetSessionByID returns a session whatever its environment.
func (db *DB) GetSessionByID(ctx context.Context, id string) (*store.Session, error) {
	return scanSession(db.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id))
}

// ListUserSessions returns one keyset page of a user's sessions, ended or not.
func (db *DB) ListUserSessions(ctx context.Context, envID, userID string, p store.ListParams) (store.Page[store.Session], error) {
	s := p.Scan()
	q := `SELECT ` + sessionColumns + ` FROM sessions WHERE environment_id = $1 AND user_id = $2`
	args := []any{envID, userID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
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
		return store.Page[store.Session]{}, mapErr(err)
	}
	defer rows.Close()
	var sessions []store.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return store.Page[store.Session]{}, err
		}
		sessions = append(sessions, *s)
	}
	if err := rows.Err(); err != nil {
		return store.Page[store.Session]{}, mapErr(err)
	}
	return store.MakePage(sessions, func(s store.Session) string { return s.ID }, p), nil
}

// TouchSession records activity at the given time: LastActiveAt and
// UpdatedAt move forward to it, never back. ErrNotFound if absent.
func (db *DB) TouchSession(ctx context.Context, envID, id string, at time.Time) error {
	return rowsAffected(db.pool.Exec(ctx, `UPDATE sessions SET last_active_at = greatest(last_active_at, $1),
		updated_at = greatest(updated_at, $1) WHERE environment_id = $2 AND id = $3`, ts(at), envID, id))
}

// EndSession marks a session ended, keeping the first end time (and the
// UpdatedAt it set). ErrNotFound if absent.
func (db *DB) EndSession(ctx context.Context, envID, id string, at time.Time) error {
	return rowsAffected(db.pool.Exec(ctx, `UPDATE sessions SET ended_at = coalesce(ended_at, $1),
		updated_at = CASE WHEN ended_at IS NULL THEN $1 ELSE updated_at END WHERE environment_id = $2 AND id = $3`,
		ts(at), envID, id))
}

const refreshTokenColumns = `hash, environment_id, session_id, created_at, used_at, successor_hash, successor_sealed`

func scanRefreshToken(row pgx.Row) (*store.RefreshToken, error) {
	var t store.RefreshToken
	var used *time.Time
	var sealed *string
	if err := row.Scan(&t.Hash, &t.EnvironmentID, &t.SessionID, &t.CreatedAt, &used, &t.SuccessorHash, &sealed); err != nil {
		return nil, mapErr(err)
	}
	t.CreatedAt, t.UsedAt = t.CreatedAt.UTC(), utcPtr(used)
	if sealed != nil {
		t.SuccessorSealed = *sealed
	}
	if len(t.SuccessorHash) == 0 {
		t.SuccessorHash = nil
	}
	return &t, nil
}

// execer is what can run a statement: the pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func insertRefreshToken(ctx context.Context, e execer, t *store.RefreshToken) error {
	_, err := e.Exec(ctx, `INSERT INTO refresh_tokens (`+refreshTokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.Hash, t.EnvironmentID, t.SessionID, ts(t.CreatedAt), tsPtr(t.UsedAt), bytesOrNil(t.SuccessorHash), textOrNil(t.SuccessorSealed))
	return mapErr(err)
}

// CreateRefreshToken inserts t. ErrConflict if its hash exists.
func (db *DB) CreateRefreshToken(ctx context.Context, t *store.RefreshToken) error {
	return insertRefreshToken(ctx, db.pool, t)
}

// Rotating a refresh token is one round trip: these statements go out as
// one pipelined batch, which PostgreSQL runs as one implicit transaction.
// The first marks the token used and inserts its successor in a single
// statement, so two concurrent rotations cannot both succeed: the second
// waits for the first's row lock, then finds used_at set and changes
// nothing. The reads after it see the token as it is now (used by this
// call or an earlier one), its session and its user.
const (
	rotateRefreshSQL = `WITH prev AS (
		UPDATE refresh_tokens SET used_at = $2, successor_hash = $3, successor_sealed = $4
		WHERE hash = $1 AND used_at IS NULL
		RETURNING environment_id, session_id)
	INSERT INTO refresh_tokens (` + refreshTokenColumns + `)
	SELECT $3, environment_id, session_id, $5, $6, $7, $8 FROM prev`
	refreshTokenByHashSQL = `SELECT ` + refreshTokenColumns + ` FROM refresh_tokens WHERE hash = $1`
	sessionOfRefreshSQL   = `SELECT ` + sessionColumns + ` FROM sessions
		WHERE id = (SELECT session_id FROM refresh_tokens WHERE hash = $1)`
	userOfRefreshSQL = `SELECT ` + userColumns + ` FROM users
		WHERE (environment_id, id) = (SELECT environment_id, user_id FROM sessions
			WHERE id = (SELECT session_id FROM refresh_tokens WHERE hash = $1))`
)

// RotateRefreshToken marks the token used at now, records next as its
// successor and inserts next (in the token's environment and session,
// whatever next says; next itself is not changed), and returns the token
// as it was before with its session and user. Of concurrent rotations only
// the first succeeds; the others get the token as that one committed it
// (successor included), with ErrAlreadyUsed, and insert nothing.
func (db *DB) RotateRefreshToken(ctx context.Context, hash []byte, now time.Time, next *store.RefreshToken, nextSealed string) (*store.Rotation, error) {
	b := &pgx.Batch{}
	b.Queue(rotateRefreshSQL, hash, ts(now), bytesOrNil(next.Hash), textOrNil(nextSealed),
		ts(next.CreatedAt), tsPtr(next.UsedAt), bytesOrNil(next.SuccessorHash), textOrNil(next.SuccessorSealed))
	b.Queue(refreshTokenByHashSQL, hash)
	b.Queue(sessionOfRefreshSQL, hash)
	b.Queue(userOfRefreshSQL, hash)
	br := db.pool.SendBatch(ctx, b)
	defer br.Close()
	tag, err := br.Exec()
	if err != nil {
		return nil, mapErr(err)
	}
	t, err := scanRefreshToken(br.QueryRow())
	if err != nil {
		return nil, err
	}
	r := &store.Rotation{Token: t}
	if r.Session, err = orNil(scanSession(br.QueryRow())); err != nil {
		return nil, err
	}
	if r.User, err = orNil(scanUser(br.QueryRow())); err != nil {
		return nil, err
	}
	if err := mapErr(br.Close()); err != nil {
		return nil, err
	}
	if tag.RowsAffected() == 0 {
		if t.UsedAt == nil {
			// Only a rotation can set used_at, and none succeeded here, so
			// the token must have been used when the update looked at it.
			return nil, fmt.Errorf("rotate refresh token: not rotated, yet unused")
		}
		return r, store.ErrAlreadyUsed
	}
	// This call used it: give it back as it was.
	t.UsedAt, t.SuccessorHash, t.SuccessorSealed = nil, nil, ""
	return r, nil
}

// orNil turns ErrNotFound into a nil value and no error.
func orNil[T any](v *T, err error) (*T, error) {
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return v, err
}

const browserSessionColumns = `id, hash, environment_id, user_id, created_at, last_seen_at, expires_at, ended_at`

// CreateBrowserSession inserts b. ErrConflict if its ID or hash exists.
func (db *DB) CreateBrowserSession(ctx context.Context, b *store.BrowserSession) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO browser_sessions (`+browserSessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		b.ID, b.Hash, b.EnvironmentID, b.UserID, ts(b.CreatedAt), ts(b.LastSeenAt), ts(b.ExpiresAt), tsPtr(b.EndedAt))
	return mapErr(err)
}

// GetBrowserSessionByHash returns the browser session whose cookie token
// hashes to hash, ended or expired or not.
func (db *DB) GetBrowserSessionByHash(ctx context.Context, hash []byte) (*store.BrowserSession, error) {
	var b store.BrowserSession
	var ended *time.Time
	err := db.pool.QueryRow(ctx, `SELECT `+browserSessionColumns+` FROM browser_sessions WHERE hash = $1`, hash).
		Scan(&b.ID, &b.Hash, &b.EnvironmentID, &b.UserID, &b.CreatedAt, &b.LastSeenAt, &b.ExpiresAt, &ended)
	if err != nil {
		return nil, mapErr(err)
	}
	b.CreatedAt, b.LastSeenAt, b.ExpiresAt, b.EndedAt = b.CreatedAt.UTC(), b.LastSeenAt.UTC(), b.ExpiresAt.UTC(), utcPtr(ended)
	return &b, nil
}

// TouchBrowserSession moves LastSeenAt forward to at (never back).
// ErrNotFound if absent.
func (db *DB) TouchBrowserSession(ctx context.Context, id string, at time.Time) error {
	return rowsAffected(db.pool.Exec(ctx, `UPDATE browser_sessions SET last_seen_at = greatest(last_seen_at, $1) WHERE id = $2`, ts(at), id))
}

// EndBrowserSession marks a browser session ended, keeping the first end
// time. ErrNotFound if absent.
func (db *DB) EndBrowserSession(ctx context.Context, envID, id string, at time.Time) error {
	return rowsAffected(db.pool.Exec(ctx, `UPDATE browser_sessions SET ended_at = coalesce(ended_at, $1) WHERE environment_id = $2 AND id = $3`,
		ts(at), envID, id))
}
