package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const sessionColumns = `id, environment_id, user_id, browser_session_id, client_id, auth_method, ip_address, user_agent,
	organization_id, created_at, updated_at, last_active_at, expires_at, ended_at`

func scanSession(row interface{ Scan(...any) error }) (*store.Session, error) {
	var s store.Session
	var created, updated, active, expires int64
	var ended sql.NullInt64
	err := row.Scan(&s.ID, &s.EnvironmentID, &s.UserID, &s.BrowserSessionID, &s.ClientID, &s.AuthMethod, &s.IPAddress,
		&s.UserAgent, &s.OrganizationID, &created, &updated, &active, &expires, &ended)
	if err != nil {
		return nil, mapErr(err)
	}
	s.CreatedAt, s.UpdatedAt, s.LastActiveAt, s.ExpiresAt = fromMS(created), fromMS(updated), fromMS(active), fromMS(expires)
	s.EndedAt = fromMSPtr(ended)
	return &s, nil
}

// CreateSession inserts s.
func (db *DB) CreateSession(ctx context.Context, s *store.Session) error {
	_, err := db.ex(ctx, insertSessionSQL, sessionArgs(s)...)
	return mapErr(err)
}

const insertSessionSQL = `INSERT INTO sessions (` + sessionColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func sessionArgs(s *store.Session) []any {
	return []any{s.ID, s.EnvironmentID, s.UserID, s.BrowserSessionID, s.ClientID, s.AuthMethod, s.IPAddress, s.UserAgent,
		s.OrganizationID, ms(s.CreatedAt), ms(s.UpdatedAt), ms(s.LastActiveAt), ms(s.ExpiresAt), msPtr(s.EndedAt)}
}

// StartSession records a sign-in (see store.SignIn) in one write
// transaction.
func (db *DB) StartSession(ctx context.Context, in store.SignIn) error {
	if err := in.Check(); err != nil {
		return err
	}
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return db.startSession(ctx, tx, in)
	})
}

// startSession writes in inside tx. A completed request is found before
// anything is written.
func (db *DB) startSession(ctx context.Context, tx *sql.Tx, in store.SignIn) error {
	s := in.Session
	if in.Request != "" {
		res, err := db.txe(ctx, tx, `DELETE FROM auth_requests WHERE environment_id = ? AND id = ?`, s.EnvironmentID, in.Request)
		if err := rowsAffected(res, err); errors.Is(err, store.ErrNotFound) {
			return store.ErrAlreadyUsed
		} else if err != nil {
			return err
		}
	}
	if in.Pending != "" {
		res, err := db.txe(ctx, tx, `UPDATE challenges SET used_at = ? WHERE environment_id = ? AND id = ? AND kind = ? AND used_at IS NULL`,
			ms(s.CreatedAt), s.EnvironmentID, in.Pending, store.ChallengePendingAuth)
		if err := rowsAffected(res, err); errors.Is(err, store.ErrNotFound) {
			return store.ErrAlreadyUsed
		} else if err != nil {
			return err
		}
	}
	res, err := db.txe(ctx, tx, `UPDATE users SET last_sign_in_at = ? WHERE environment_id = ? AND id = ?`,
		ms(s.CreatedAt), s.EnvironmentID, s.UserID)
	if err := rowsAffected(res, err); err != nil {
		return err
	}
	if b := in.Browser; b != nil {
		if _, err := db.txe(ctx, tx, insertBrowserSessionSQL, browserSessionArgs(b)...); err != nil {
			return mapErr(err)
		}
	}
	if _, err := db.txe(ctx, tx, insertSessionSQL, sessionArgs(s)...); err != nil {
		return mapErr(err)
	}
	if in.Code != nil {
		c := *in.Code
		c.EnvironmentID, c.UserID, c.SessionID = s.EnvironmentID, s.UserID, s.ID
		if _, err := db.txe(ctx, tx, insertAuthCodeSQL, authCodeArgs(&c)...); err != nil {
			return mapErr(err)
		}
	}
	if in.First != nil {
		t := *in.First
		t.EnvironmentID, t.SessionID = s.EnvironmentID, s.ID
		if _, err := db.txe(ctx, tx, insertRefreshTokenSQL, refreshTokenArgs(&t)...); err != nil {
			return mapErr(err)
		}
	}
	if in.Event != nil {
		if _, err := db.txe(ctx, tx, insertEventSQL, eventArgs(in.Event)...); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// GetSession returns a session of an environment.
func (db *DB) GetSession(ctx context.Context, envID, id string) (*store.Session, error) {
	return scanSession(db.qr(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE environment_id = ? AND id = ?`,
		envID, id))
}

const sessionByIDSQL = `SELECT ` + sessionColumns + ` FROM sessions WHERE id = ?`

// txSession and txUser read a session and a user inside a write
// transaction (on the writer's warm cache); nil if it no longer exists.
func (db *DB) txSession(ctx context.Context, tx *sql.Tx, id string) (*store.Session, error) {
	return orNil(scanSession(db.txr(ctx, tx, sessionByIDSQL, id)))
}

func (db *DB) txUser(ctx context.Context, tx *sql.Tx, envID, id string) (*store.User, error) {
	return orNil(scanUser(db.txr(ctx, tx, userByIDSQL, envID, id)))
}

// GetSessionByID returns a session whatever its environment.
func (db *DB) GetSessionByID(ctx context.Context, id string) (*store.Session, error) {
	return scanSession(db.qr(ctx, sessionByIDSQL, id))
}

// ListUserSessions returns one keyset page of a user's sessions, ended or not.
func (db *DB) ListUserSessions(ctx context.Context, envID, userID string, p store.ListParams) (store.Page[store.Session], error) {
	s := p.Scan()
	q := `SELECT ` + sessionColumns + ` FROM sessions WHERE environment_id = ? AND user_id = ?`
	args := []any{envID, userID}
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
	return queryPage(ctx, db, p, scanSession, func(s store.Session) string { return s.ID }, q, args...)
}

// TouchSession records activity at the given time: LastActiveAt and
// UpdatedAt move forward to it, never back. ErrNotFound if absent.
func (db *DB) TouchSession(ctx context.Context, envID, id string, at time.Time) error {
	res, err := db.ex(ctx, `UPDATE sessions SET last_active_at = max(last_active_at, ?1), updated_at = max(updated_at, ?1)
		WHERE environment_id = ?2 AND id = ?3`, ms(at), envID, id)
	return rowsAffected(res, err)
}

// EndSession marks a session ended, keeping the first end time (and the
// UpdatedAt it set). ErrNotFound if absent.
func (db *DB) EndSession(ctx context.Context, envID, id string, at time.Time) error {
	res, err := db.ex(ctx, `UPDATE sessions SET ended_at = coalesce(ended_at, ?1),
		updated_at = CASE WHEN ended_at IS NULL THEN ?1 ELSE updated_at END WHERE environment_id = ?2 AND id = ?3`,
		ms(at), envID, id)
	return rowsAffected(res, err)
}

// EndSessionAndBrowser ends a session and its browser session and logs
// event, in one transaction (see store.Sessions).
func (db *DB) EndSessionAndBrowser(ctx context.Context, envID, id, browserSessionID string, at time.Time, event *store.Event) (bool, error) {
	var ended bool
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := db.txe(ctx, tx, `UPDATE sessions SET ended_at = ?1, updated_at = ?1
			WHERE environment_id = ?2 AND id = ?3 AND ended_at IS NULL`, ms(at), envID, id)
		if err != nil {
			return mapErr(err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if ended = n == 1; !ended {
			var one int
			if err := db.txr(ctx, tx, `SELECT 1 FROM sessions WHERE environment_id = ? AND id = ?`, envID, id).Scan(&one); err != nil {
				return mapErr(err)
			}
		}
		if browserSessionID != "" {
			if _, err := db.txe(ctx, tx, `UPDATE browser_sessions SET ended_at = coalesce(ended_at, ?)
				WHERE environment_id = ? AND id = ?`, ms(at), envID, browserSessionID); err != nil {
				return mapErr(err)
			}
		}
		if !ended {
			return nil
		}
		_, err = db.txe(ctx, tx, insertEventSQL, eventArgs(event)...)
		return mapErr(err)
	})
	return ended, err
}

const refreshTokenColumns = `hash, environment_id, session_id, created_at, used_at, successor_hash, successor_sealed`

func scanRefreshToken(row interface{ Scan(...any) error }) (*store.RefreshToken, error) {
	var t store.RefreshToken
	var created int64
	var used sql.NullInt64
	var sealed sql.NullString
	if err := row.Scan(&t.Hash, &t.EnvironmentID, &t.SessionID, &created, &used, &t.SuccessorHash, &sealed); err != nil {
		return nil, mapErr(err)
	}
	t.CreatedAt, t.UsedAt, t.SuccessorSealed = fromMS(created), fromMSPtr(used), sealed.String
	if len(t.SuccessorHash) == 0 {
		t.SuccessorHash = nil
	}
	return &t, nil
}

const insertRefreshTokenSQL = `INSERT INTO refresh_tokens (` + refreshTokenColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?)`

func refreshTokenArgs(t *store.RefreshToken) []any {
	return []any{t.Hash, t.EnvironmentID, t.SessionID, ms(t.CreatedAt), msPtr(t.UsedAt), blobOrNil(t.SuccessorHash), textOrNil(t.SuccessorSealed)}
}

// CreateRefreshToken inserts t. ErrConflict if its hash exists.
func (db *DB) CreateRefreshToken(ctx context.Context, t *store.RefreshToken) error {
	_, err := db.ex(ctx, insertRefreshTokenSQL, refreshTokenArgs(t)...)
	return mapErr(err)
}

// DeleteRefreshToken deletes the token with hash. ErrNotFound if absent.
func (db *DB) DeleteRefreshToken(ctx context.Context, hash []byte) error {
	return rowsAffected(db.ex(ctx, `DELETE FROM refresh_tokens WHERE hash = ?`, hash))
}

// RotateRefreshToken marks the token used at now, records next as its
// successor and inserts next (in the token's environment and session,
// whatever next says; next itself is not changed), in one write
// transaction, and returns the token as it was before. A used token is
// returned as stored (successor included), with ErrAlreadyUsed, and
// nothing is inserted.
func (db *DB) RotateRefreshToken(ctx context.Context, hash []byte, now time.Time, next *store.RefreshToken, nextSealed string) (*store.Rotation, error) {
	var out *store.Rotation
	// Everything runs on the writer's connection, whose page cache stays
	// warm: readers' caches are dropped after every commit, so reading the
	// session and user there would cost more than the rotation itself.
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		t, err := scanRefreshToken(db.txr(ctx, tx, `SELECT `+refreshTokenColumns+` FROM refresh_tokens WHERE hash = ?`, hash))
		if err != nil {
			return err
		}
		out = &store.Rotation{Token: t}
		if out.Session, err = db.txSession(ctx, tx, t.SessionID); err != nil {
			return err
		}
		if out.Session != nil {
			if out.User, err = db.txUser(ctx, tx, out.Session.EnvironmentID, out.Session.UserID); err != nil {
				return err
			}
		}
		if t.UsedAt != nil {
			return store.ErrAlreadyUsed
		}
		if _, err := db.txe(ctx, tx, `UPDATE refresh_tokens SET used_at = ?, successor_hash = ?, successor_sealed = ? WHERE hash = ?`,
			ms(now), blobOrNil(next.Hash), textOrNil(nextSealed), hash); err != nil {
			return mapErr(err)
		}
		succ := *next
		succ.EnvironmentID, succ.SessionID = t.EnvironmentID, t.SessionID
		_, err = db.txe(ctx, tx, insertRefreshTokenSQL, refreshTokenArgs(&succ)...)
		return mapErr(err)
	})
	if err != nil && !errors.Is(err, store.ErrAlreadyUsed) {
		return nil, err
	}
	return out, err
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
	_, err := db.ex(ctx, insertBrowserSessionSQL, browserSessionArgs(b)...)
	return mapErr(err)
}

const insertBrowserSessionSQL = `INSERT INTO browser_sessions (` + browserSessionColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

func browserSessionArgs(b *store.BrowserSession) []any {
	return []any{b.ID, b.Hash, b.EnvironmentID, b.UserID, ms(b.CreatedAt), ms(b.LastSeenAt), ms(b.ExpiresAt), msPtr(b.EndedAt)}
}

// GetBrowserSessionByHash returns the browser session whose cookie token
// hashes to hash, ended or expired or not.
func (db *DB) GetBrowserSessionByHash(ctx context.Context, hash []byte) (*store.BrowserSession, error) {
	var b store.BrowserSession
	var created, seen, expires int64
	var ended sql.NullInt64
	err := db.qr(ctx, `SELECT `+browserSessionColumns+` FROM browser_sessions WHERE hash = ?`, hash).
		Scan(&b.ID, &b.Hash, &b.EnvironmentID, &b.UserID, &created, &seen, &expires, &ended)
	if err != nil {
		return nil, mapErr(err)
	}
	b.CreatedAt, b.LastSeenAt, b.ExpiresAt, b.EndedAt = fromMS(created), fromMS(seen), fromMS(expires), fromMSPtr(ended)
	return &b, nil
}

// GetBrowserSessionUser returns the browser session whose cookie token
// hashes to hash and its user. ErrNotFound if either is missing. (Two
// reads: in-process reads cost too little to be worth a joined scan.)
func (db *DB) GetBrowserSessionUser(ctx context.Context, hash []byte) (*store.BrowserSession, *store.User, error) {
	b, err := db.GetBrowserSessionByHash(ctx, hash)
	if err != nil {
		return nil, nil, err
	}
	u, err := db.GetUser(ctx, b.EnvironmentID, b.UserID)
	if err != nil {
		return nil, nil, err
	}
	return b, u, nil
}

// TouchBrowserSession moves LastSeenAt forward to at (never back).
// ErrNotFound if absent.
func (db *DB) TouchBrowserSession(ctx context.Context, id string, at time.Time) error {
	res, err := db.ex(ctx, `UPDATE browser_sessions SET last_seen_at = max(last_seen_at, ?) WHERE id = ?`, ms(at), id)
	return rowsAffected(res, err)
}

// EndBrowserSession marks a browser session ended, keeping the first end
// time. ErrNotFound if absent.
func (db *DB) EndBrowserSession(ctx context.Context, envID, id string, at time.Time) error {
	res, err := db.ex(ctx, `UPDATE browser_sessions SET ended_at = coalesce(ended_at, ?) WHERE environment_id = ? AND id = ?`,
		ms(at), envID, id)
	return rowsAffected(res, err)
}
