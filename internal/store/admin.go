package store

import (
	"context"
	"time"
)

// Admins stores dashboard operators, who are separate from end users and
// belong to no environment.
type Admins interface {
	// CreateAdmin inserts a. ErrConflict if the email is taken.
	CreateAdmin(ctx context.Context, a *Admin) error
	// GetAdmin returns an admin by ID.
	GetAdmin(ctx context.Context, id string) (*Admin, error)
	// GetAdminByEmail returns an admin by (normalised) email.
	GetAdminByEmail(ctx context.Context, email string) (*Admin, error)
	// ListAdmins returns every admin, oldest first.
	ListAdmins(ctx context.Context) ([]Admin, error)
	// UpdateAdmin reads the admin, calls fn and writes the result, atomically.
	UpdateAdmin(ctx context.Context, id string, fn func(*Admin) error) (*Admin, error)

	// CreateAdminToken inserts a one-time sign-in or set-up token.
	CreateAdminToken(ctx context.Context, t *AdminToken) error
	// ConsumeAdminToken marks the token used at now and returns it,
	// atomically. Already used: the token and ErrAlreadyUsed. Unknown:
	// ErrNotFound. Expiry is the caller's check.
	ConsumeAdminToken(ctx context.Context, hash []byte, now time.Time) (*AdminToken, error)

	// CreateAdminSession inserts s.
	CreateAdminSession(ctx context.Context, s *AdminSession) error
	// GetAdminSessionByHash returns the session whose cookie token hashes to hash.
	GetAdminSessionByHash(ctx context.Context, hash []byte) (*AdminSession, error)
	// TouchAdminSession records activity at the given time (never moving it back).
	TouchAdminSession(ctx context.Context, id string, at time.Time) error
	// EndAdminSession marks a session ended, keeping the first end time.
	EndAdminSession(ctx context.Context, id string, at time.Time) error
}

// Admin is a dashboard operator. PasswordHash is "" until the admin sets a
// password through a set-up link; TOTPSecret is sealed with the master key,
// or "" when TOTP is off.
type Admin struct {
	ID           string
	Email        string
	PasswordHash string
	TOTPSecret   string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastSignInAt *time.Time
}

// AdminToken is a one-time link token: Purpose "sign_in" signs the admin in
// (dev), "setup" lets them set a password (production).
type AdminToken struct {
	Hash      []byte
	AdminID   string
	Purpose   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// AdminSession is a signed-in dashboard session.
type AdminSession struct {
	ID         string
	Hash       []byte
	AdminID    string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	EndedAt    *time.Time
}

// Events stores the activity log: sign-ups, sign-ins, failed sign-ins,
// logouts and admin changes, each with who did it and when.
type Events interface {
	// RecordEvent inserts e.
	RecordEvent(ctx context.Context, e *Event) error
	// ListEvents returns a page of an environment's events, newest first
	// by default, optionally of some types only. envID "" lists events of no
	// environment (server-wide admin changes).
	ListEvents(ctx context.Context, envID string, types []string, p ListParams) (Page[Event], error)
}

// Event is one entry of the activity log. Data holds event-specific
// details as string pairs (never secrets).
type Event struct {
	ID            string // event_…
	EnvironmentID string // "" for server-wide events
	Type          string // user.signed_up, user.signed_in, user.sign_in_failed, session.ended, admin.*
	ActorType     string // "user", "admin", "api_key" or "system"
	ActorID       string
	TargetID      string // the user, session, key, … acted on
	IPAddress     string
	Data          map[string]string
	CreatedAt     time.Time
}

// Branding is how an environment's hosted pages look. Zero values mean
// Gatehouse's defaults.
type Branding struct {
	AppName      string // shown instead of the environment name; "" for the name
	LogoURL      string // https URL of a logo image, or ""
	PrimaryColor string // #rrggbb, or ""
	Appearance   string // "light", "dark" or "auto" ("" = auto)
}
