package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors every backend returns, checked by the conformance suite.
var (
	// ErrNotFound means no row matched (in the given environment).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a uniqueness rule would be broken, such as a second
	// user with the same email in one environment.
	ErrConflict = errors.New("store: conflict")
	// ErrUnavailable means the database could not be reached.
	ErrUnavailable = errors.New("store: database unavailable")
)

// Store is the whole storage contract. A Store is safe for concurrent use.
type Store interface {
	Environments
	APIKeys
	Redirects
	Users
	Settings
	SigningKeys
	AuthRequests
	AuthCodes
	Sessions
	RefreshTokens
	BrowserSessions
	Throttles
	Admins
	Events
	Outbox
	Challenges
	Idempotency
	Sweeper

	// Migrate applies every pending migration, in order, each in its own
	// transaction. Several nodes may call it at once; backends serialise them.
	Migrate(ctx context.Context) error
	// Migrations reports every known migration and whether it is applied.
	Migrations(ctx context.Context) ([]Migration, error)
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Backend names the backend ("sqlite" or "postgres").
	Backend() string
	// Close releases the database.
	Close() error
}

// Migration is one numbered schema change.
type Migration struct {
	Version   int
	Name      string
	Applied   bool
	AppliedAt time.Time
}

// Environments stores environments.
type Environments interface {
	// CreateEnvironment inserts env. ErrConflict if its ID or client ID exists.
	CreateEnvironment(ctx context.Context, env *Environment) error
	// GetEnvironment returns the environment with the given ID.
	GetEnvironment(ctx context.Context, id string) (*Environment, error)
	// GetEnvironmentByClientID returns the environment owning a client ID.
	GetEnvironmentByClientID(ctx context.Context, clientID string) (*Environment, error)
	// ListEnvironments returns every environment, oldest first.
	ListEnvironments(ctx context.Context) ([]Environment, error)
	// UpdateEnvironment reads the environment, calls fn on it and writes the
	// result, atomically. If fn returns an error nothing is written.
	UpdateEnvironment(ctx context.Context, id string, fn func(*Environment) error) (*Environment, error)
}

// APIKeys stores API keys. Only a SHA-256 hash of each secret is kept.
type APIKeys interface {
	// CreateAPIKey inserts key. ErrConflict if the hash exists.
	CreateAPIKey(ctx context.Context, key *APIKey) error
	// GetAPIKeyByHash returns the key whose secret hashes to hash, revoked or not.
	GetAPIKeyByHash(ctx context.Context, hash []byte) (*APIKey, error)
	// ListAPIKeys returns an environment's keys, oldest first, revoked included.
	ListAPIKeys(ctx context.Context, envID string) ([]APIKey, error)
	// RevokeAPIKey marks a key revoked at the given time. Revoking a revoked
	// key keeps the first time. ErrNotFound if it is not in envID.
	RevokeAPIKey(ctx context.Context, envID, id string, at time.Time) error
	// TouchAPIKey records that the key was used at the given time.
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
}

// Redirects stores an environment's allowed redirect targets of each kind.
// At most one per environment and kind is the default.
type Redirects interface {
	// AddRedirect inserts r. ErrConflict if the URI is already registered
	// for that kind. If r.Default is set, any previous default is cleared in
	// the same transaction.
	AddRedirect(ctx context.Context, r *Redirect) error
	// ListRedirects returns an environment's redirects of one kind, oldest first.
	ListRedirects(ctx context.Context, envID string, kind RedirectKind) ([]Redirect, error)
	// RemoveRedirect deletes one redirect by URI. ErrNotFound if absent.
	RemoveRedirect(ctx context.Context, envID string, kind RedirectKind, uri string) error
	// SetDefaultRedirect makes uri the default of its kind and clears the
	// previous default, atomically. ErrNotFound if uri is not registered.
	SetDefaultRedirect(ctx context.Context, envID string, kind RedirectKind, uri string) error
}

// Users stores end users.
type Users interface {
	// CreateUser inserts u and, in the same transaction, the activity-log
	// events given (a sign-up is logged if and only if its user is
	// stored). ErrConflict if the email or external ID is taken in the
	// environment, or an event's ID is; then nothing is written.
	CreateUser(ctx context.Context, u *User, events ...*Event) error
	// GetUser returns a user by ID within an environment.
	GetUser(ctx context.Context, envID, id string) (*User, error)
	// GetUserByEmail returns a user by (normalised) email within an environment.
	GetUserByEmail(ctx context.Context, envID, email string) (*User, error)
	// GetUserByExternalID returns a user by external ID within an environment.
	GetUserByExternalID(ctx context.Context, envID, externalID string) (*User, error)
	// ListUsers returns one page of users, keyset-paginated by ID.
	ListUsers(ctx context.Context, envID string, f UserFilter, p ListParams) (Page[User], error)
	// UpdateUser reads the user, calls fn on it and writes the result,
	// atomically. If fn returns an error nothing is written. ErrConflict if
	// the new email or external ID is taken.
	UpdateUser(ctx context.Context, envID, id string, fn func(*User) error) (*User, error)
	// DeleteUser removes a user. ErrNotFound if absent.
	DeleteUser(ctx context.Context, envID, id string) error
}

// Settings is a small key-value table for server-wide facts, such as the
// check value that proves the master key is the one secrets were sealed with.
type Settings interface {
	// GetSetting returns a value, or ErrNotFound.
	GetSetting(ctx context.Context, key string) (string, error)
	// PutSettingIfAbsent stores value under key unless the key exists, and
	// returns the value now stored (the existing one if there was one).
	PutSettingIfAbsent(ctx context.Context, key, value string) (string, error)
}

// EnvironmentType says whether an environment is for development (http and
// localhost redirect URIs allowed) or production.
type EnvironmentType string

// The environment types.
const (
	Development EnvironmentType = "development"
	Production  EnvironmentType = "production"
)

// Environment is one tenant of a Gatehouse server: its own client ID, keys,
// redirect rules, settings and users.
type Environment struct {
	ID             string
	Name           string
	Type           EnvironmentType
	ClientID       string
	SignInEndpoint string   // where a sign-in that did not start at the app is sent; "" if unset
	CORSOrigins    []string // exact origins allowed to call the API from a browser
	// Token and session settings; zero values mean the defaults below.
	AccessTokenTTL     time.Duration // lifetime of access tokens (JWTs)
	SessionLifetime    time.Duration // absolute lifetime of sessions
	SessionIdleTimeout time.Duration // a session with no activity for this long ends
	SigningAlgorithm   string        // RS256 or ES256
	Branding           Branding
	Email              EmailSettings
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// EmailSettings are an environment's email-based features. A new
// environment has the three switches on (environments.Service.Create sets
// them; existing rows got true from the migration).
type EmailSettings struct {
	Verification  bool   // password sign-ups must verify their email before signing in
	MagicAuth     bool   // "Email me a code" sign-in
	MagicSignUp   bool   // a magic code to an unknown address creates the account
	SenderName    string // "" = the app name
	SenderAddress string // "" = the server's default sender
}

// Defaults for an environment's token and session settings.
const (
	DefaultAccessTokenTTL     = 5 * time.Minute
	DefaultSessionLifetime    = 30 * 24 * time.Hour
	DefaultSessionIdleTimeout = 7 * 24 * time.Hour
	DefaultSigningAlgorithm   = "RS256"
)

// WithDefaults returns the environment with zero settings replaced by the defaults.
func (e Environment) WithDefaults() Environment {
	if e.AccessTokenTTL <= 0 {
		e.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if e.SessionLifetime <= 0 {
		e.SessionLifetime = DefaultSessionLifetime
	}
	if e.SessionIdleTimeout <= 0 {
		e.SessionIdleTimeout = DefaultSessionIdleTimeout
	}
	if e.SigningAlgorithm == "" {
		e.SigningAlgorithm = DefaultSigningAlgorithm
	}
	return e
}

// APIKey is a secret key of one environment. The secret itself is never
// stored: Hash is SHA-256 of the full secret and Prefix its first characters,
// shown so operators can tell keys apart.
type APIKey struct {
	ID            string
	EnvironmentID string
	Name          string
	Prefix        string
	Hash          []byte
	CreatedAt     time.Time
	LastUsedAt    *time.Time
	RevokedAt     *time.Time
}

// RedirectKind says what a redirect target is for.
type RedirectKind string

// The redirect kinds.
const (
	// RedirectURI is where the app receives the authorization code.
	RedirectURI RedirectKind = "redirect_uri"
	// SignOutRedirect is an allowed return_to target after logout.
	SignOutRedirect RedirectKind = "sign_out"
)

// Redirect is one allowed redirect target.
type Redirect struct {
	ID            string
	EnvironmentID string
	Kind          RedirectKind
	URI           string
	Default       bool
	CreatedAt     time.Time
}

// User is an end user of one environment. Email is stored normalised
// (trimmed, lowercased). PasswordHash is a PHC or bcrypt string, or "".
type User struct {
	ID                string
	EnvironmentID     string
	Email             string
	EmailVerified     bool
	FirstName         *string
	LastName          *string
	Name              *string
	ProfilePictureURL *string
	Locale            *string
	ExternalID        *string
	Metadata          map[string]string
	PasswordHash      string
	LastSignInAt      *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// UserFilter narrows a user list.
type UserFilter struct {
	Email string // exact normalised email, or "" for all
	// Search matches users whose email starts with it, or whose first name,
	// last name or name starts with it (case-insensitive), or "" for all.
	Search string
}

// Order is the direction of a list.
type Order string

// The list orders. Desc (newest first) is the API's default.
const (
	Asc  Order = "asc"
	Desc Order = "desc"
)

// ListParams selects one page of a keyset-paginated list. At most one of
// Before and After is set; each is the ID of an item (which need not exist).
type ListParams struct {
	Limit  int
	Before string
	After  string
	Order  Order
}

// Page is one page of a list. Before is the ID to pass as ListParams.Before
// to get the previous page, or "" if this is the first page; After likewise
// for the next page.
type Page[T any] struct {
	Data   []T
	Before string
	After  string
}

// Now returns the current time as stored: UTC, truncated to milliseconds.
func Now() time.Time { return Truncate(time.Now()) }

// Truncate returns t in UTC truncated to milliseconds, the precision every
// backend keeps.
func Truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }
