package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

const signingKeyColumns = `id, environment_id, algorithm, private_key, public_jwk, created_at, activates_at, expires_at`

func scanSigningKey(row pgx.Row) (*store.SigningKey, error) {
	var k store.SigningKey
	var expires *time.Time
	if err := row.Scan(&k.ID, &k.EnvironmentID, &k.Algorithm, &k.PrivateKey, &k.PublicJWK, &k.CreatedAt, &k.ActivatesAt, &expires); err != nil {
		return nil, mapErr(err)
	}
	k.CreatedAt, k.ActivatesAt, k.ExpiresAt = k.CreatedAt.UTC(), k.ActivatesAt.UTC(), utcPtr(expires)
	return &k, nil
}

func insertSigningKey(ctx context.Context, tx pgx.Tx, k *store.SigningKey) error {
	_, err := tx.Exec(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		k.ID, k.EnvironmentID, k.Algorithm, k.PrivateKey, k.PublicJWK, ts(k.CreatedAt), ts(k.ActivatesAt), tsPtr(k.ExpiresAt))
	return mapErr(err)
}

// lockEnvironmentKeys takes the environment's row lock for the rest of tx,
// so changes to its signing keys queue behind one another. ErrNotFound if
// the environment does not exist.
func lockEnvironmentKeys(ctx context.Context, tx pgx.Tx, envID string) error {
	var one int
	return mapErr(tx.QueryRow(ctx, `SELECT 1 FROM environments WHERE id = $1 FOR NO KEY UPDATE`, envID).Scan(&one))
}

// CreateFirstSigningKey inserts k unless its environment already has a
// signing key (expired or not), and reports whether it did. The check and
// the insert run under the environment's row lock, so racing callers
// queue and only the first inserts. ErrNotFound if the environment does
// not exist.
func (db *DB) CreateFirstSigningKey(ctx context.Context, k *store.SigningKey) (bool, error) {
	created := false
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockEnvironmentKeys(ctx, tx, k.EnvironmentID); err != nil {
			return err
		}
		// A statement after the lock sees every key committed before it.
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM signing_keys WHERE environment_id = $1)`,
			k.EnvironmentID).Scan(&exists); err != nil {
			return mapErr(err)
		}
		if exists {
			return nil
		}
		if err := insertSigningKey(ctx, tx, k); err != nil {
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
// environment that has no expiry, then inserts next, in one transaction
// under the environment's row lock, so concurrent rotations leave one
// unexpired key. ErrNotFound if the environment does not exist.
func (db *DB) RotateSigningKey(ctx context.Context, next *store.SigningKey, retireAt time.Time) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockEnvironmentKeys(ctx, tx, next.EnvironmentID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET expires_at = $1 WHERE environment_id = $2 AND expires_at IS NULL`,
			ts(retireAt), next.EnvironmentID); err != nil {
			return mapErr(err)
		}
		return insertSigningKey(ctx, tx, next)
	})
}

// ListSigningKeys returns an environment's keys that have not expired at
// now, ordered by activation time then ID.
func (db *DB) ListSigningKeys(ctx context.Context, envID string, now time.Time) ([]store.SigningKey, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys
		WHERE environment_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY activates_at, id`, envID, ts(now))
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
	_, err := db.pool.Exec(ctx, `INSERT INTO auth_requests (`+authRequestColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		r.ID, r.EnvironmentID, r.ClientID, r.RedirectURI, r.State, r.CodeChallenge, r.ScreenHint, r.LoginHint,
		ts(r.CreatedAt), ts(r.ExpiresAt))
	return mapErr(err)
}

// GetAuthRequest returns a request of an environment, expired or not.
func (db *DB) GetAuthRequest(ctx context.Context, envID, id string) (*store.AuthRequest, error) {
	var r store.AuthRequest
	err := db.pool.QueryRow(ctx, `SELECT `+authRequestColumns+` FROM auth_requests WHERE environment_id = $1 AND id = $2`,
		envID, id).Scan(&r.ID, &r.EnvironmentID, &r.ClientID, &r.RedirectURI, &r.State, &r.CodeChallenge, &r.ScreenHint,
		&r.LoginHint, &r.CreatedAt, &r.ExpiresAt)
	if err != nil {
		return nil, mapErr(err)
	}
	r.CreatedAt, r.ExpiresAt = r.CreatedAt.UTC(), r.ExpiresAt.UTC()
	return &r, nil
}

const authCodeColumns = `hash, environment_id, client_id, redirect_uri, code_challenge, user_id, session_id,
	created_at, expires_at, used_at`

// authCodeRow holds the scan targets of authCodeColumns.
type authCodeRow struct {
	c    store.AuthCode
	used *time.Time
}

func (r *authCodeRow) dest() []any {
	c := &r.c
	return []any{&c.Hash, &c.EnvironmentID, &c.ClientID, &c.RedirectURI, &c.CodeChallenge, &c.UserID, &c.SessionID,
		&c.CreatedAt, &c.ExpiresAt, &r.used}
}

func (r *authCodeRow) value() *store.AuthCode {
	c := r.c
	c.CreatedAt, c.ExpiresAt, c.UsedAt = c.CreatedAt.UTC(), c.ExpiresAt.UTC(), utcPtr(r.used)
	return &c
}

func scanAuthCode(row pgx.Row) (*store.AuthCode, error) {
	var r authCodeRow
	if err := row.Scan(r.dest()...); err != nil {
		return nil, mapErr(err)
	}
	return r.value(), nil
}

// CreateAuthCode inserts c. ErrConflict if its hash exists.
func (db *DB) CreateAuthCode(ctx context.Context, c *store.AuthCode) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO auth_codes (`+authCodeColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		c.Hash, c.EnvironmentID, c.ClientID, c.RedirectURI, c.CodeChallenge, c.UserID, c.SessionID,
		ts(c.CreatedAt), ts(c.ExpiresAt), tsPtr(c.UsedAt))
	return mapErr(err)
}

// ConsumeAuthCode marks the code used at now and returns it as it was
// before, with its session and user; of concurrent consumers only the
// first succeeds. A used code is returned as stored, with ErrAlreadyUsed.
func (db *DB) ConsumeAuthCode(ctx context.Context, hash []byte, now time.Time, first *store.RefreshToken) (*store.Redemption, error) {
	// One round trip, one implicit transaction (see RotateRefreshToken):
	// the update takes the code only if no one has, waiting for a
	// concurrent consumer's row lock and then finding used_at set; the
	// first refresh token goes in with it.
	b := &pgx.Batch{}
	if first == nil {
		b.Queue(`UPDATE auth_codes SET used_at = $2 WHERE hash = $1 AND used_at IS NULL`, hash, ts(now))
	} else {
		b.Queue(consumeWithTokenSQL, hash, ts(now), bytesOrNil(first.Hash), ts(first.CreatedAt), tsPtr(first.UsedAt),
			bytesOrNil(first.SuccessorHash), textOrNil(first.SuccessorSealed))
	}
	b.Queue(codeJoinedSQL, hash)
	var cr authCodeRow
	var sr sessionRow
	var ur userRow
	var r *store.Redemption
	consumed, err := db.useOnce(ctx, b, slices.Concat(cr.dest(), sr.dest(), ur.dest()))
	if err == nil {
		var u *store.User
		u, err = ur.value()
		r = &store.Redemption{Code: cr.value(), Session: sr.value(), User: u}
	}
	if errors.Is(err, store.ErrNotFound) {
		// The code, its session or its user is missing: read what there is.
		r, err = db.readRedemption(ctx, hash)
	}
	if err != nil {
		return nil, err
	}
	if !consumed {
		if r.Code.UsedAt == nil {
			return nil, fmt.Errorf("consume auth code: not consumed, yet unused")
		}
		return r, store.ErrAlreadyUsed
	}
	r.Code.UsedAt = nil // as it was before this call
	return r, nil
}

// consumeWithTokenSQL consumes a code and inserts the session's first
// refresh token in one statement; it affects one row only if the code was
// consumed.
const consumeWithTokenSQL = `WITH used AS (
		UPDATE auth_codes SET used_at = $2 WHERE hash = $1 AND used_at IS NULL
		RETURNING environment_id, session_id)
	INSERT INTO refresh_tokens (` + refreshTokenColumns + `)
	SELECT $3, environment_id, session_id, $4, $5, $6, $7 FROM used`

var codeJoinedSQL = `SELECT ` + qualified("c", authCodeColumns) + `, ` + qualified("s", sessionColumns) + `, ` + qualified("u", userColumns) + `
	FROM auth_codes c
	JOIN sessions s ON s.id = c.session_id
	JOIN users u ON u.environment_id = c.environment_id AND u.id = c.user_id
	WHERE c.hash = $1`

// readRedemption reads a code and whichever of its session and user
// exist, one at a time.
func (db *DB) readRedemption(ctx context.Context, hash []byte) (*store.Redemption, error) {
	c, err := scanAuthCode(db.pool.QueryRow(ctx, `SELECT `+authCodeColumns+` FROM auth_codes WHERE hash = $1`, hash))
	if err != nil {
		return nil, err
	}
	r := &store.Redemption{Code: c}
	if r.Session, err = orNil(db.GetSessionByID(ctx, c.SessionID)); err != nil {
		return nil, err
	}
	r.User, err = orNil(db.GetUser(ctx, c.EnvironmentID, c.UserID))
	return r, err
}
