package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const signingKeyColumns = `id, environment_id, algorithm, private_key, public_jwk, created_at, activates_at, expires_at`

func scanSigningKey(row interface{ Scan(...any) error }) (*store.SigningKey, error) {
	var k store.SigningKey
	var created, activates int64
	var expires sql.NullInt64
	if err := row.Scan(&k.ID, &k.EnvironmentID, &k.Algorithm, &k.PrivateKey, &k.PublicJWK, &created, &activates, &expires); err != nil {
		return nil, mapErr(err)
	}
	k.CreatedAt, k.ActivatesAt, k.ExpiresAt = fromMS(created), fromMS(activates), fromMSPtr(expires)
	return &k, nil
}

func (db *DB) insertSigningKey(ctx context.Context, tx *sql.Tx, k *store.SigningKey) error {
	_, err := db.txe(ctx, tx, `INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.EnvironmentID, k.Algorithm, k.PrivateKey, k.PublicJWK, ms(k.CreatedAt), ms(k.ActivatesAt), msPtr(k.ExpiresAt))
	return mapErr(err)
}

// CreateFirstSigningKey inserts k unless its environment already has a
// signing key (expired or not), and reports whether it did. The check and
// the insert share one write transaction. ErrNotFound if the environment
// does not exist.
func (db *DB) CreateFirstSigningKey(ctx context.Context, k *store.SigningKey) (bool, error) {
	created := false
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var one int
		if err := db.txr(ctx, tx, `SELECT 1 FROM environments WHERE id = ?`, k.EnvironmentID).Scan(&one); err != nil {
			return mapErr(err)
		}
		var exists bool
		if err := db.txr(ctx, tx, `SELECT EXISTS (SELECT 1 FROM signing_keys WHERE environment_id = ?)`,
			k.EnvironmentID).Scan(&exists); err != nil {
			return mapErr(err)
		}
		if exists {
			return nil
		}
		if err := db.insertSigningKey(ctx, tx, k); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return created, nil
}

// RotateSigningKey sets ExpiresAt = retireAt on every key of next's
// environment that has no expiry, then inserts next, in one transaction.
func (db *DB) RotateSigningKey(ctx context.Context, next *store.SigningKey, retireAt time.Time) error {
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := db.txe(ctx, tx, `UPDATE signing_keys SET expires_at = ? WHERE environment_id = ? AND expires_at IS NULL`,
			ms(retireAt), next.EnvironmentID); err != nil {
			return mapErr(err)
		}
		return db.insertSigningKey(ctx, tx, next)
	})
}

// ListSigningKeys returns an environment's keys that have not expired at
// now, ordered by activation time then ID.
func (db *DB) ListSigningKeys(ctx context.Context, envID string, now time.Time) ([]store.SigningKey, error) {
	rows, err := db.qrs(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys
		WHERE environment_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY activates_at, id`, envID, ms(now))
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.SigningKey
	for rows.Next() {
		k, err := scanSigningKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *k)
	}
	return out, mapErr(rows.Err())
}

const authRequestColumns = `id, environment_id, client_id, redirect_uri, state, code_challenge, screen_hint, login_hint,
	created_at, expires_at`

// CreateAuthRequest inserts r.
func (db *DB) CreateAuthRequest(ctx context.Context, r *store.AuthRequest) error {
	_, err := db.ex(ctx, `INSERT INTO auth_requests (`+authRequestColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.EnvironmentID, r.ClientID, r.RedirectURI, r.State, r.CodeChallenge, r.ScreenHint, r.LoginHint,
		ms(r.CreatedAt), ms(r.ExpiresAt))
	return mapErr(err)
}

// GetAuthRequest returns a request of an environment, expired or not.
func (db *DB) GetAuthRequest(ctx context.Context, envID, id string) (*store.AuthRequest, error) {
	var r store.AuthRequest
	var created, expires int64
	err := db.qr(ctx, `SELECT `+authRequestColumns+` FROM auth_requests WHERE environment_id = ? AND id = ?`,
		envID, id).Scan(&r.ID, &r.EnvironmentID, &r.ClientID, &r.RedirectURI, &r.State, &r.CodeChallenge, &r.ScreenHint,
		&r.LoginHint, &created, &expires)
	if err != nil {
		return nil, mapErr(err)
	}
	r.CreatedAt, r.ExpiresAt = fromMS(created), fromMS(expires)
	return &r, nil
}

const authCodeColumns = `hash, environment_id, client_id, redirect_uri, code_challenge, user_id, session_id,
	created_at, expires_at, used_at`

func scanAuthCode(row interface{ Scan(...any) error }) (*store.AuthCode, error) {
	var c store.AuthCode
	var created, expires int64
	var used sql.NullInt64
	err := row.Scan(&c.Hash, &c.EnvironmentID, &c.ClientID, &c.RedirectURI, &c.CodeChallenge, &c.UserID, &c.SessionID,
		&created, &expires, &used)
	if err != nil {
		return nil, mapErr(err)
	}
	c.CreatedAt, c.ExpiresAt, c.UsedAt = fromMS(created), fromMS(expires), fromMSPtr(used)
	return &c, nil
}

// CreateAuthCode inserts c. ErrConflict if its hash exists.
func (db *DB) CreateAuthCode(ctx context.Context, c *store.AuthCode) error {
	_, err := db.ex(ctx, insertAuthCodeSQL, authCodeArgs(c)...)
	return mapErr(err)
}

const insertAuthCodeSQL = `INSERT INTO auth_codes (` + authCodeColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func authCodeArgs(c *store.AuthCode) []any {
	return []any{c.Hash, c.EnvironmentID, c.ClientID, c.RedirectURI, c.CodeChallenge, c.UserID, c.SessionID,
		ms(c.CreatedAt), ms(c.ExpiresAt), msPtr(c.UsedAt)}
}

// ConsumeAuthCode marks the code used at now and returns it as it was
// before, in one write transaction. A used code is returned as stored,
// with ErrAlreadyUsed.
func (db *DB) ConsumeAuthCode(ctx context.Context, hash []byte, now time.Time, first *store.RefreshToken) (*store.Redemption, error) {
	var out *store.Redemption
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		c, err := scanAuthCode(db.txr(ctx, tx, `SELECT `+authCodeColumns+` FROM auth_codes WHERE hash = ?`, hash))
		if err != nil {
			return err
		}
		out = &store.Redemption{Code: c}
		if out.Session, err = db.txSession(ctx, tx, c.SessionID); err != nil {
			return err
		}
		if out.User, err = db.txUser(ctx, tx, c.EnvironmentID, c.UserID); err != nil {
			return err
		}
		if c.UsedAt != nil {
			return store.ErrAlreadyUsed
		}
		if _, err = db.txe(ctx, tx, `UPDATE auth_codes SET used_at = ? WHERE hash = ?`, ms(now), hash); err != nil || first == nil {
			return mapErr(err)
		}
		t := *first
		t.EnvironmentID, t.SessionID = c.EnvironmentID, c.SessionID
		_, err = db.txe(ctx, tx, insertRefreshTokenSQL, refreshTokenArgs(&t)...)
		return mapErr(err)
	})
	if err != nil && !errors.Is(err, store.ErrAlreadyUsed) {
		return nil, err
	}
	return out, err
}
