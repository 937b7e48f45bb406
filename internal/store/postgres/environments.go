package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

const envColumns = `id, name, type, client_id, sign_in_endpoint, cors_origins,
	access_token_ttl_ms, session_lifetime_ms, session_idle_timeout_ms, signing_algorithm,
	brand_app_name, brand_logo_url, brand_primary_color, brand_appearance,
	email_verification, magic_auth, magic_sign_up, sender_name, sender_address, created_at, updated_at`

func scanEnvironment(row pgx.Row) (*store.Environment, error) {
	var e store.Environment
	var cors []byte
	var ttl, lifetime, idle int64
	if err := row.Scan(&e.ID, &e.Name, &e.Type, &e.ClientID, &e.SignInEndpoint, &cors,
		&ttl, &lifetime, &idle, &e.SigningAlgorithm,
		&e.Branding.AppName, &e.Branding.LogoURL, &e.Branding.PrimaryColor, &e.Branding.Appearance,
		&e.Email.Verification, &e.Email.MagicAuth, &e.Email.MagicSignUp, &e.Email.SenderName, &e.Email.SenderAddress,
		&e.CreatedAt, &e.UpdatedAt); err != nil {
		return nil, mapErr(err)
	}
	if err := json.Unmarshal(cors, &e.CORSOrigins); err != nil {
		return nil, fmt.Errorf("environment %s: cors_origins: %w", e.ID, err)
	}
	if e.CORSOrigins == nil {
		e.CORSOrigins = []string{}
	}
	e.AccessTokenTTL, e.SessionLifetime, e.SessionIdleTimeout = fromDurMS(ttl), fromDurMS(lifetime), fromDurMS(idle)
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	return &e, nil
}

func corsJSON(origins []string) json.RawMessage {
	if origins == nil {
		origins = []string{}
	}
	b, _ := json.Marshal(origins)
	return b
}

// CreateEnvironment inserts env. Zero token and session settings are stored
// as their defaults; env itself is not changed.
func (db *DB) CreateEnvironment(ctx context.Context, env *store.Environment) error {
	e := env.WithDefaults()
	_, err := db.pool.Exec(ctx, `INSERT INTO environments (`+envColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
		e.ID, e.Name, string(e.Type), e.ClientID, e.SignInEndpoint, corsJSON(e.CORSOrigins),
		durMS(e.AccessTokenTTL), durMS(e.SessionLifetime), durMS(e.SessionIdleTimeout), e.SigningAlgorithm,
		e.Branding.AppName, e.Branding.LogoURL, e.Branding.PrimaryColor, e.Branding.Appearance,
		e.Email.Verification, e.Email.MagicAuth, e.Email.MagicSignUp, e.Email.SenderName, e.Email.SenderAddress,
		ts(e.CreatedAt), ts(e.UpdatedAt))
	return mapErr(err)
}

// GetEnvironment returns an environment by ID.
func (db *DB) GetEnvironment(ctx context.Context, id string) (*store.Environment, error) {
	return scanEnvironment(db.pool.QueryRow(ctx, `SELECT `+envColumns+` FROM environments WHERE id = $1`, id))
}

// GetEnvironmentByClientID returns the environment owning clientID.
func (db *DB) GetEnvironmentByClientID(ctx context.Context, clientID string) (*store.Environment, error) {
	return scanEnvironment(db.pool.QueryRow(ctx, `SELECT `+envColumns+` FROM environments WHERE client_id = $1`, clientID))
}

// ListEnvironments returns all environments, oldest first.
func (db *DB) ListEnvironments(ctx context.Context) ([]store.Environment, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+envColumns+` FROM environments ORDER BY id`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.Environment
	for rows.Next() {
		e, err := scanEnvironment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	return out, mapErr(rows.Err())
}

// UpdateEnvironment applies fn to an environment atomically, holding the
// row's lock from the read to the commit. The ID, client ID and creation
// time cannot be changed; token and session settings that fn sets to zero
// are stored as their defaults; the environment returned is the one stored.
func (db *DB) UpdateEnvironment(ctx context.Context, id string, fn func(*store.Environment) error) (*store.Environment, error) {
	var out *store.Environment
	err := db.tx(ctx, func(tx pgx.Tx) error {
		// NO KEY UPDATE: rows referencing the environment can still be
		// inserted meanwhile, as the key does not change.
		e, err := scanEnvironment(tx.QueryRow(ctx, `SELECT `+envColumns+` FROM environments WHERE id = $1 FOR NO KEY UPDATE`, id))
		if err != nil {
			return err
		}
		clientID, created := e.ClientID, e.CreatedAt
		if err := fn(e); err != nil {
			return err
		}
		*e = e.WithDefaults()
		e.ID, e.ClientID, e.CreatedAt, e.UpdatedAt = id, clientID, created, ts(e.UpdatedAt)
		e.AccessTokenTTL, e.SessionLifetime = fromDurMS(durMS(e.AccessTokenTTL)), fromDurMS(durMS(e.SessionLifetime))
		e.SessionIdleTimeout = fromDurMS(durMS(e.SessionIdleTimeout))
		if e.CORSOrigins == nil {
			e.CORSOrigins = []string{}
		}
		_, err = tx.Exec(ctx, `UPDATE environments SET name = $1, type = $2, sign_in_endpoint = $3, cors_origins = $4,
			access_token_ttl_ms = $5, session_lifetime_ms = $6, session_idle_timeout_ms = $7, signing_algorithm = $8,
			brand_app_name = $9, brand_logo_url = $10, brand_primary_color = $11, brand_appearance = $12,
			email_verification = $13, magic_auth = $14, magic_sign_up = $15, sender_name = $16, sender_address = $17, updated_at = $18
			WHERE id = $19`, e.Name, string(e.Type), e.SignInEndpoint, corsJSON(e.CORSOrigins),
			durMS(e.AccessTokenTTL), durMS(e.SessionLifetime), durMS(e.SessionIdleTimeout), e.SigningAlgorithm,
			e.Branding.AppName, e.Branding.LogoURL, e.Branding.PrimaryColor, e.Branding.Appearance,
			e.Email.Verification, e.Email.MagicAuth, e.Email.MagicSignUp, e.Email.SenderName, e.Email.SenderAddress, e.UpdatedAt, id)
		if err != nil {
			return mapErr(err)
		}
		out = e
		return nil
	})
	return out, err
}
