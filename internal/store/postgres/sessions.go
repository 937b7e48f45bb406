package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

const sessionColumns = `id, environment_id, user_id, browser_session_id, client_id, auth_method, ip_address, user_agent,
	organization_id, created_at, updated_at, last_active_at, expires_at, ended_at`

// sessionRow holds the scan targets of sessionColumns.
type sessionRow struct {
	s     store.Session
	ended *time.Time
}

func (r *sessionRow) dest() []any {
	s := &r.s
	return []any{&s.ID, &s.EnvironmentID, &s.UserID, &s.BrowserSessionID, &s.ClientID, &s.AuthMethod, &s.IPAddress,
		&s.UserAgent, &s.OrganizationID, &s.CreatedAt, &s.UpdatedAt, &s.LastActiveAt, &s.ExpiresAt, &r.ended}
}

func (r *sessionRow) value() *store.Session {
	s := r.s
	s.CreatedAt, s.UpdatedAt, s.LastActiveAt, s.ExpiresAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC(), s.LastActiveAt.UTC(), s.ExpiresAt.UTC()
	s.EndedAt = utcPtr(r.ended)
	return &s
}

func scanSession(row pgx.Row) (*store.Session, error) {
	var r sessionRow
	if err := row.Scan(r.dest()...); err != nil {
		return nil, mapErr(err)
	}
	return r.value(), nil
}

// CreateSession inserts s.
func (db *DB) CreateSession(ctx context.Context, s *store.Session) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO sessions (`+sessionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`, sessionArgs(s)...)
	return mapErr(err)
}

func sessionArgs(s *store.Session) []any {
	return []any{s.ID, s.EnvironmentID, s.UserID, s.BrowserSessionID, s.ClientID, s.AuthMethod, s.IPAddress, s.UserAgent,
		s.OrganizationID, ts(s.CreatedAt), ts(s.UpdatedAt), ts(s.LastActiveAt), ts(s.ExpiresAt), tsPtr(s.EndedAt)}
}

// startSessionSQL deletes the authorization request the sign-in completes
// ($15; none if it is empty) and marks used the pending-authentication
// challenge it completes ($17; none if it is empty), if the user exists
// (with the verified address $16, unless it is empty), sets the user's
// last sign-in, and inserts the session, in one statement: each step
// takes its row from the ones before, so nothing is written unless all of
// them are. It answers which steps went through. Comparing $17 with the
// empty string first makes a one-time filter: a sign-in without a pending
// challenge does not probe the challenges table.
const startSessionSQL = `WITH known AS (
		SELECT 1 FROM users WHERE environment_id = $2 AND id = $3 AND ($16 = '' OR (email = $16 AND email_verified))),
	r AS (
		DELETE FROM auth_requests
		WHERE environment_id = $2 AND id = $15 AND EXISTS (SELECT 1 FROM known)
		RETURNING 1),
	p AS (
		UPDATE challenges SET used_at = $10
		WHERE $17 <> '' AND environment_id = $2 AND id = $17 AND kind = '` + store.ChallengePendingAuth + `' AND used_at IS NULL
			AND EXISTS (SELECT 1 FROM known)
		RETURNING 1),
	u AS (
		UPDATE users SET last_sign_in_at = $10
		WHERE environment_id = $2 AND id = $3 AND ($15 = '' OR EXISTS (SELECT 1 FROM r)) AND ($17 = '' OR EXISTS (SELECT 1 FROM p))
		RETURNING 1),
	s AS (
		INSERT INTO sessions (` + sessionColumns + `)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 FROM u
		RETURNING 1)
	SELECT EXISTS (SELECT 1 FROM known), EXISTS (SELECT 1 FROM r), EXISTS (SELECT 1 FROM p), EXISTS (SELECT 1 FROM s)`

// StartSession records a sign-in (see store.SignIn) as one pipelined
// batch: one round trip, one implicit transaction.
func (db *DB) StartSession(ctx context.Context, in store.SignIn) error {
	if err := in.Check(); err != nil {
		return err
	}
	b := &pgx.Batch{}
	started := queueStartSession(b, in, "")
	if err := db.pool.SendBatch(ctx, b).Close(); err != nil {
		return mapErr(err)
	}
	return started()
}

// queueStartSession queues the statements of a sign-in on b. The browser
// session, code, token and event are inserted only if the session was; with
// email set, the session only if its user has that address, verified.
// The function returned, called once the batch ran, gives StartSession's
// answer.
func queueStartSession(b *pgx.Batch, in store.SignIn, email string) func() error {
	s := in.Session
	var userFound, requestTaken, pendingTaken, started bool
	b.Queue(startSessionSQL, append(sessionArgs(s), in.Request, email, in.Pending)...).QueryRow(func(row pgx.Row) error {
		return row.Scan(&userFound, &requestTaken, &pendingTaken, &started)
	})
	if bs := in.Browser; bs != nil {
		b.Queue(`INSERT INTO browser_sessions (`+browserSessionColumns+`)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $9)`,
			bs.ID, bs.Hash, bs.EnvironmentID, bs.UserID, ts(bs.CreatedAt), ts(bs.LastSeenAt), ts(bs.ExpiresAt), tsPtr(bs.EndedAt), s.ID)
	}
	if code := in.Code; code != nil {
		b.Queue(`INSERT INTO auth_codes (`+authCodeColumns+`)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $7)`,
			code.Hash, s.EnvironmentID, code.ClientID, code.RedirectURI, code.CodeChallenge, s.UserID, s.ID,
			ts(code.CreatedAt), ts(code.ExpiresAt), tsPtr(code.UsedAt))
	}
	if first := in.First; first != nil {
		b.Queue(`INSERT INTO refresh_tokens (`+refreshTokenColumns+`)
			SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $3)`,
			first.Hash, s.EnvironmentID, s.ID, ts(first.CreatedAt), tsPtr(first.UsedAt), bytesOrNil(first.SuccessorHash), textOrNil(first.SuccessorSealed))
	}
	if e := in.Event; e != nil {
		b.Queue(insertEventIf(`EXISTS (SELECT 1 FROM sessions WHERE id = $10)`), append(eventArgs(e), s.ID)...)
	}
	return func() error {
		switch {
		case !userFound:
			return store.ErrNotFound
		case in.Request != "" && !requestTaken, in.Pending != "" && !pendingTaken:
			return store.ErrAlreadyUsed
		case !started:
			return store.ErrNotFound // the user went in the meantime
		}
		return nil
	}
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
	return queryPage(ctx, db, p, scanSession, func(s store.Session) string { return s.ID }, q, args...)
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

// endSessionAndBrowserSQL ends a live session ($3), the browser session
// $4 if the session exists, and inserts the event ($5–$13) if it ended
// the session, in one statement; it answers whether it ended the session
// and whether the session exists.
const endSessionAndBrowserSQL = `WITH s AS (
		UPDATE sessions SET ended_at = $1, updated_at = $1
		WHERE environment_id = $2 AND id = $3 AND ended_at IS NULL
		RETURNING 1),
	b AS (
		UPDATE browser_sessions SET ended_at = coalesce(ended_at, $1)
		WHERE environment_id = $2 AND id = $4 AND EXISTS (SELECT 1 FROM sessions WHERE environment_id = $2 AND id = $3)
		RETURNING 1),
	e AS (
		INSERT INTO events (` + eventColumns + `)
		SELECT $5, $6, $7, $8, $9, $10, $11, $12, $13 FROM s
		RETURNING 1)
	SELECT EXISTS (SELECT 1 FROM s), EXISTS (SELECT 1 FROM sessions WHERE environment_id = $2 AND id = $3)`

// EndSessionAndBrowser ends a session and its browser session and logs
// event, in one statement (see store.Sessions).
func (db *DB) EndSessionAndBrowser(ctx context.Context, envID, id, browserSessionID string, at time.Time, event *store.Event) (bool, error) {
	var ended, found bool
	err := db.pool.QueryRow(ctx, endSessionAndBrowserSQL, append([]any{ts(at), envID, id, browserSessionID}, eventArgs(event)...)...).Scan(&ended, &found)
	switch {
	case err != nil:
		return false, mapErr(err)
	case !found:
		return false, store.ErrNotFound
	}
	return ended, nil
}

const refreshTokenColumns = `hash, environment_id, session_id, created_at, used_at, successor_hash, successor_sealed`

// refreshTokenRow holds the scan targets of refreshTokenColumns.
type refreshTokenRow struct {
	t      store.RefreshToken
	used   *time.Time
	sealed *string
}

func (r *refreshTokenRow) dest() []any {
	t := &r.t
	return []any{&t.Hash, &t.EnvironmentID, &t.SessionID, &t.CreatedAt, &r.used, &t.SuccessorHash, &r.sealed}
}

func (r *refreshTokenRow) value() *store.RefreshToken {
	t := r.t
	t.CreatedAt, t.UsedAt = t.CreatedAt.UTC(), utcPtr(r.used)
	if r.sealed != nil {
		t.SuccessorSealed = *r.sealed
	}
	if len(t.SuccessorHash) == 0 {
		t.SuccessorHash = nil
	}
	return &t
}

func scanRefreshToken(row pgx.Row) (*store.RefreshToken, error) {
	var r refreshTokenRow
	if err := row.Scan(r.dest()...); err != nil {
		return nil, mapErr(err)
	}
	return r.value(), nil
}

// CreateRefreshToken inserts t. ErrConflict if its hash exists.
func (db *DB) CreateRefreshToken(ctx context.Context, t *store.RefreshToken) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO refresh_tokens (`+refreshTokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.Hash, t.EnvironmentID, t.SessionID, ts(t.CreatedAt), tsPtr(t.UsedAt), bytesOrNil(t.SuccessorHash), textOrNil(t.SuccessorSealed))
	return mapErr(err)
}

// useOnce sends b, one round trip: first a statement that marks a
// single-use row (refresh token, code) used, affecting rows only if this
// call used it, then a read of that row joined with its session and user,
// scanned into dest. It reports whether this call used the row; a missing
// row, session or user gives ErrNotFound (and used is still right).
// (Without BEGIN, PostgreSQL runs a pipelined batch as one implicit
// transaction.)
func (db *DB) useOnce(ctx context.Context, b *pgx.Batch, dest []any) (used bool, err error) {
	br := db.pool.SendBatch(ctx, b)
	tag, err := br.Exec()
	if err == nil {
		used = tag.RowsAffected() > 0
		err = br.QueryRow().Scan(dest...)
	}
	return used, mapErr(errors.Join(err, br.Close()))
}

// DeleteRefreshToken deletes the token with hash. ErrNotFound if absent.
func (db *DB) DeleteRefreshToken(ctx context.Context, hash []byte) error {
	return rowsAffected(db.pool.Exec(ctx, `DELETE FROM refresh_tokens WHERE hash = $1`, hash))
}

// Rotating a refresh token is one round trip: two statements go out as
// one pipelined batch, which PostgreSQL runs as one implicit transaction.
// The first marks the token used and inserts its successor in a single
// statement, so two concurrent rotations cannot both succeed: the second
// waits for the first's row lock, then finds used_at set and changes
// nothing. The second reads the token as it is now (used by this call or
// an earlier one) joined with its session and user.
const rotateRefreshSQL = `WITH prev AS (
		UPDATE refresh_tokens SET used_at = $2, successor_hash = $3, successor_sealed = $4
		WHERE hash = $1 AND used_at IS NULL
		RETURNING environment_id, session_id)
	INSERT INTO refresh_tokens (` + refreshTokenColumns + `)
	SELECT $3, environment_id, session_id, $5, $6, $7, $8 FROM prev`

var refreshJoinedSQL = `SELECT ` + qualified("t", refreshTokenColumns) + `, ` + qualified("s", sessionColumns) + `, ` + qualified("u", userColumns) + `
	FROM refresh_tokens t
	JOIN sessions s ON s.id = t.session_id
	JOIN users u ON u.environment_id = s.environment_id AND u.id = s.user_id
	WHERE t.hash = $1`

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
	b.Queue(refreshJoinedSQL, hash)
	var tr refreshTokenRow
	var sr sessionRow
	var ur userRow
	var r *store.Rotation
	rotated, err := db.useOnce(ctx, b, slices.Concat(tr.dest(), sr.dest(), ur.dest()))
	if err == nil {
		var u *store.User
		u, err = ur.value()
		r = &store.Rotation{Token: tr.value(), Session: sr.value(), User: u}
	}
	if errors.Is(err, store.ErrNotFound) {
		// The token, its session or its user is missing: read what there is.
		r, err = db.readRotation(ctx, hash)
	}
	if err != nil {
		return nil, err
	}
	if !rotated {
		if r.Token.UsedAt == nil {
			// Only a rotation sets used_at, and this one changed nothing,
			// so the token was used when the update looked at it.
			return nil, fmt.Errorf("rotate refresh token: not rotated, yet unused")
		}
		return r, store.ErrAlreadyUsed
	}
	// This call used it: give it back as it was.
	r.Token.UsedAt, r.Token.SuccessorHash, r.Token.SuccessorSealed = nil, nil, ""
	return r, nil
}

// readRotation reads a refresh token and whichever of its session and
// user exist, one at a time: the path of unknown tokens and of sessions or
// users that are gone.
func (db *DB) readRotation(ctx context.Context, hash []byte) (*store.Rotation, error) {
	t, err := scanRefreshToken(db.pool.QueryRow(ctx, `SELECT `+refreshTokenColumns+` FROM refresh_tokens WHERE hash = $1`, hash))
	if err != nil {
		return nil, err
	}
	r := &store.Rotation{Token: t}
	if r.Session, err = orNil(db.GetSessionByID(ctx, t.SessionID)); err != nil || r.Session == nil {
		return r, err
	}
	r.User, err = orNil(db.GetUser(ctx, r.Session.EnvironmentID, r.Session.UserID))
	return r, err
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

// browserSessionRow holds the scan targets of browserSessionColumns.
type browserSessionRow struct {
	b     store.BrowserSession
	ended *time.Time
}

func (r *browserSessionRow) dest() []any {
	b := &r.b
	return []any{&b.ID, &b.Hash, &b.EnvironmentID, &b.UserID, &b.CreatedAt, &b.LastSeenAt, &b.ExpiresAt, &r.ended}
}

func (r *browserSessionRow) value() *store.BrowserSession {
	b := r.b
	b.CreatedAt, b.LastSeenAt, b.ExpiresAt, b.EndedAt = b.CreatedAt.UTC(), b.LastSeenAt.UTC(), b.ExpiresAt.UTC(), utcPtr(r.ended)
	return &b
}

// GetBrowserSessionByHash returns the browser session whose cookie token
// hashes to hash, ended or expired or not.
func (db *DB) GetBrowserSessionByHash(ctx context.Context, hash []byte) (*store.BrowserSession, error) {
	var r browserSessionRow
	err := db.pool.QueryRow(ctx, `SELECT `+browserSessionColumns+` FROM browser_sessions WHERE hash = $1`, hash).Scan(r.dest()...)
	if err != nil {
		return nil, mapErr(err)
	}
	return r.value(), nil
}

var browserSessionUserSQL = `SELECT ` + qualified("b", browserSessionColumns) + `, ` + qualified("u", userColumns) + `
	FROM browser_sessions b
	JOIN users u ON u.environment_id = b.environment_id AND u.id = b.user_id
	WHERE b.hash = $1`

// GetBrowserSessionUser returns the browser session whose cookie token
// hashes to hash and its user, in one query. ErrNotFound if either is
// missing.
func (db *DB) GetBrowserSessionUser(ctx context.Context, hash []byte) (*store.BrowserSession, *store.User, error) {
	var b browserSessionRow
	var u userRow
	if err := db.pool.QueryRow(ctx, browserSessionUserSQL, hash).Scan(append(b.dest(), u.dest()...)...); err != nil {
		return nil, nil, mapErr(err)
	}
	user, err := u.value()
	if err != nil {
		return nil, nil, err
	}
	return b.value(), user, nil
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
