package gatehouse

import "time"

// User is a user of an environment (workos-compat.md §4). Nullable strings
// of the API are "" when null; LastSignInAt is nil until the first sign-in.
type User struct {
	ID                string            `json:"id"`
	Email             string            `json:"email"`
	EmailVerified     bool              `json:"email_verified"`
	FirstName         string            `json:"first_name"`
	LastName          string            `json:"last_name"`
	Name              string            `json:"name"`
	ProfilePictureURL string            `json:"profile_picture_url"`
	LastSignInAt      *time.Time        `json:"last_sign_in_at"`
	Locale            string            `json:"locale"`
	ExternalID        string            `json:"external_id"`
	Metadata          map[string]string `json:"metadata"`
	CreatedAt         time.Time         `json:"created_at"`
	UpdatedAt         time.Time         `json:"updated_at"`
}

// Impersonator names the admin acting as the user, when a session is an
// impersonation.
type Impersonator struct {
	Email  string `json:"email"`
	Reason string `json:"reason"` // "" when the API sent null
}

// UserSession is one of a user's sessions with an app, as the management
// API lists them (the API's "session" object; workos-compat.md §4).
type UserSession struct {
	ID             string        `json:"id"`
	UserID         string        `json:"user_id"`
	IPAddress      string        `json:"ip_address"`
	UserAgent      string        `json:"user_agent"`
	OrganizationID string        `json:"organization_id"`
	Impersonator   *Impersonator `json:"impersonator"`
	// AuthMethod is password, magic_code, oauth, sso, passkey, … or unknown.
	AuthMethod string `json:"auth_method"`
	// Status is active, expired or revoked.
	Status    string     `json:"status"`
	ExpiresAt time.Time  `json:"expires_at"`
	EndedAt   *time.Time `json:"ended_at"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// AuthResponse is a successful POST /user_management/authenticate: the
// user, their tokens, and how they signed in.
type AuthResponse struct {
	User           User   `json:"user"`
	OrganizationID string `json:"organization_id"`
	// AccessToken is a short-lived JWT; verify it against the JWKS
	// (SessionManager does).
	AccessToken string `json:"access_token"`
	// RefreshToken is single-use: each refresh returns its successor.
	RefreshToken string `json:"refresh_token"`
	// AuthenticationMethod is Password, MagicAuth, GoogleOAuth, … or "".
	AuthenticationMethod string        `json:"authentication_method"`
	Impersonator         *Impersonator `json:"impersonator"`
}

// Order is the sort order of a list, by creation time.
type Order string

// The list orders. The API's default is OrderDesc (newest first).
const (
	OrderAsc  Order = "asc"
	OrderDesc Order = "desc"
)

// ListParams page through a list. Zero values are not sent, so the API's
// defaults apply (10 per page, newest first).
type ListParams struct {
	// Limit is the page size, 1 to 100.
	Limit int
	Order Order
	// After starts the listing after the object with this ID.
	After string
}
