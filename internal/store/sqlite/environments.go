package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/store"
)

const envColumns = `id, name, type, client_id, sign_in_endpoint, cors_origins,
	access_token_ttl_ms, session_lifetime_ms, session_idle_timeout_ms, signing_algorithm,
	brand_app_name, brand_logo_url, brand_primary_color, brand_appearance,
	email_verification, magic_auth, magic_sign_up, sender_name, sender_address, created_at, updated_at`

func scanEnvironment(row interface{ Scan(...any) error }) (*store.Environment, error) {
	var e store.Environment
	var cors string
	var created, updated, ttl, lifetime, idle int64
	if err := row.Scan(&e.ID, &e.Name, &e.Type, &e.ClientID, &e.SignInEndpoint, &cors,
		&ttl, &lifetime, &idle, &e.SigningAlgorithm,
		&e.Branding.AppName, &e.Branding.LogoURL, &e.Branding.PrimaryColor, &e.Branding.Appearance,
		&e.Email.Verification, &e.Email.MagicAuth, &e.Email.MagicSignUp, &e.Email.SenderName, &e.Email.SenderAddress,
		&created, &updated); err != nil {
		return nil, mapErr(err)
	}
	if err := json.Unmarshal([]byte(cors), &e.CORSOrigins); err != nil {
		return nil, fmt.Errorf("environment %s: cors_origins: %w", e.ID, err)
	}
	e.AccessTokenTTL, e.SessionLifetime, e.SessionIdleTimeout = fromDurMS(ttl), fromDurMS(lifetime), fromDurMS(idle)
	e.CreatedAt, e.UpdatedAt = fromMS(created), fromMS(updated)
	return &e, nil
}

func corsJSON(origins []string) string {
	if origins == nil {
		origins = []string{}
	}
	b, _ := json.Marshal(origins)
	return string(b)
}

// CreateEnvironment inserts env. Zero token and session settings are stored
// as their defaults; env itself is not changed.
func (db *DB) CreateEnvironment(ctx context.Context, env *store.Environment) error {
	e := env.WithDefaults()
	_, err := db.ex(ctx, `INSERT INTO environments (`+envColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.Name, string(e.Type), e.ClientID, e.SignInEndpoint, corsJSON(e.CORSOrigins),
		durMS(e.AccessTokenTTL), durMS(e.SessionLifetime), durMS(e.SessionIdleTimeout), e.SigningAlgorithm,
		e.Branding.AppName, e.Branding.LogoURL, e.Branding.PrimaryColor, e.Branding.Appearance,
		e.Email.Verification, e.Email.MagicAuth, e.Email.MagicSignUp, e.Email.SenderName, e.Email.SenderAddress,
		ms(e.CreatedAt), ms(e.UpdatedAt))
	return mapErr(err)
}

// GetEnvironment returns an environment by ID.
func (db *DB) GetEnvironment(ctx context.Context, id string) (*store.Environment, error) {
	return scanEnvironment(db.qr(ctx, `SELECT `+envColumns+` FROM environments WHERE id = ?`, id))
}

// GetEnvironmentByClientID returns the environment owning clientID.
func (db *DB) GetEnvironmentByClientID(ctx context.Context, clientID string) (*store.Environment, error) {
	return scanEnvironment(db.qr(ctx, `SELECT `+envColumns+` FROM environments WHERE client_id = ?`, clientID))
}

// ListEnvironments returns all environments, oldest first.
func (db *DB) ListEnvironments(ctx context.Context) ([]store.Environment, error) {
	rows, err := db.qrs(ctx, `SELECT `+envColumns+` FROM environments ORDER BY id`)
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

// UpdateEnvironment applies fn to an environment atomically. The ID, client
// ID and creation time cannot be changed; token and session settings that
// fn sets to zero are stored (and returned) as their defaults.
func (db *DB) UpdateEnvironment(ctx context.Context, id string, fn func(*store.Environment) error) (*store.Environment, error) {
	var out *store.Environment
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		e, err := scanEnvironment(db.txr(ctx, tx, `SELECT `+envColumns+` FROM environments WHERE id = ?`, id))
		if err != nil {
			return err
		}
		orig := *e
		if err := fn(e); err != nil {
			return err
		}
		*e = e.WithDefaults()
		e.ID, e.ClientID, e.CreatedAt = orig.ID, orig.ClientID, orig.CreatedAt
		e.UpdatedAt = store.Truncate(e.UpdatedAt)
		e.AccessTokenTTL, e.SessionLifetime = fromDurMS(durMS(e.AccessTokenTTL)), fromDurMS(durMS(e.SessionLifetime))
		e.SessionIdleTimeout = fromDurMS(durMS(e.SessionIdleTimeout))
		if e.CORSOrigins == nil {
			e.CORSOrigins = []string{}
		}
		_, err = db.txe(ctx, tx, `UPDATE environments SET name = ?, type = ?, sign_in_endpoint = ?, cors_origins = ?,
			access_token_ttl_ms = ?, session_lifetime_ms = ?, session_idle_timeout_ms = ?, signing_algorithm = ?,
			brand_app_name = ?, brand_logo_url = ?, brand_primary_color = ?, brand_appearance = ?,
			email_verification = ?, magic_auth = ?, magic_sign_up = ?, sender_name = ?, sender_address = ?, updated_at = ?
			WHERE id = ?`,
			e.Name, string(e.Type), e.SignInEndpoint, corsJSON(e.CORSOrigins),
			durMS(e.AccessTokenTTL), durMS(e.SessionLifetime), durMS(e.SessionIdleTimeout), e.SigningAlgorithm,
			e.Branding.AppName, e.Branding.LogoURL, e.Branding.PrimaryColor, e.Branding.Appearance,
			e.Email.Verification, e.Email.MagicAuth, e.Email.MagicSignUp, e.Email.SenderName, e.Email.SenderAddress, ms(e.UpdatedAt), id)
		if err != nil {
			return mapErr(err)
		}
		out = e
		return nil
	})
	return out, err
}
