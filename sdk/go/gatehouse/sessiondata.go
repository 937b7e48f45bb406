package gatehouse

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// SessionData is what a session cookie holds. Its JSON form is the one the
// WorkOS Node SDK seals (workos-compat.md §7.3): camelCase keys in Node's
// order, with absent optional keys omitted, so Go and Node apps sharing a
// cookie password can read each other's cookies.
type SessionData struct {
	// OrganizationID is the access token's org_id claim ("" if none).
	OrganizationID string
	User           User
	AccessToken    string
	RefreshToken   string
	// AuthenticationMethod is how the user signed in ("" if unknown).
	AuthenticationMethod string
	Impersonator         *Impersonator
}

// sessionDataJSON fixes the key order and omissions of Node's seal.
type sessionDataJSON struct {
	OrganizationID       string            `json:"organizationId,omitempty"`
	User                 *sessionUserJSON  `json:"user,omitempty"`
	AccessToken          string            `json:"accessToken"`
	RefreshToken         string            `json:"refreshToken"`
	AuthenticationMethod string            `json:"authenticationMethod,omitempty"`
	Impersonator         *impersonatorJSON `json:"impersonator,omitempty"`
}

// sessionUserJSON is the Node SDK's camelCase User, keys in its order.
type sessionUserJSON struct {
	Object            string            `json:"object"`
	ID                string            `json:"id"`
	Email             string            `json:"email"`
	EmailVerified     bool              `json:"emailVerified"`
	Name              *string           `json:"name"`
	FirstName         *string           `json:"firstName"`
	ProfilePictureURL *string           `json:"profilePictureUrl"`
	LastName          *string           `json:"lastName"`
	LastSignInAt      *string           `json:"lastSignInAt"`
	Locale            *string           `json:"locale"`
	CreatedAt         string            `json:"createdAt"`
	UpdatedAt         string            `json:"updatedAt"`
	ExternalID        *string           `json:"externalId"`
	Metadata          map[string]string `json:"metadata"`
}

type impersonatorJSON struct {
	Email  string  `json:"email"`
	Reason *string `json:"reason"`
}

// apiTime is the API's time format: ISO 8601 UTC with milliseconds.
const apiTime = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(apiTime) }

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", field, err)
	}
	return t, nil
}

// MarshalJSON writes d as the Node SDK does.
func (d SessionData) MarshalJSON() ([]byte, error) {
	u := d.User
	meta := u.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	var last *string
	if u.LastSignInAt != nil {
		s := formatTime(*u.LastSignInAt)
		last = &s
	}
	out := sessionDataJSON{
		OrganizationID: d.OrganizationID,
		User: &sessionUserJSON{
			Object: "user", ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified,
			Name: nullString(u.Name), FirstName: nullString(u.FirstName), ProfilePictureURL: nullString(u.ProfilePictureURL),
			LastName: nullString(u.LastName), LastSignInAt: last, Locale: nullString(u.Locale),
			CreatedAt: formatTime(u.CreatedAt), UpdatedAt: formatTime(u.UpdatedAt),
			ExternalID: nullString(u.ExternalID), Metadata: meta,
		},
		AccessToken: d.AccessToken, RefreshToken: d.RefreshToken, AuthenticationMethod: d.AuthenticationMethod,
	}
	if d.Impersonator != nil {
		out.Impersonator = &impersonatorJSON{Email: d.Impersonator.Email, Reason: nullString(d.Impersonator.Reason)}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads a sealed session's JSON, as written by this package,
// the Node SDK or authkit-session.
func (d *SessionData) UnmarshalJSON(b []byte) error {
	var in sessionDataJSON
	if err := decodeSessionJSON(b, &in); err != nil {
		return err
	}
	return in.to(d)
}

// to converts the wire form into d.
func (in *sessionDataJSON) to(d *SessionData) error {
	*d = SessionData{OrganizationID: in.OrganizationID, AccessToken: in.AccessToken, RefreshToken: in.RefreshToken,
		AuthenticationMethod: in.AuthenticationMethod}
	if u := in.User; u != nil {
		d.User = User{ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, Name: deref(u.Name), FirstName: deref(u.FirstName),
			LastName: deref(u.LastName), ProfilePictureURL: deref(u.ProfilePictureURL), Locale: deref(u.Locale),
			ExternalID: deref(u.ExternalID), Metadata: u.Metadata}
		var err error
		if d.User.CreatedAt, err = parseTime("createdAt", u.CreatedAt); err != nil {
			return err
		}
		if d.User.UpdatedAt, err = parseTime("updatedAt", u.UpdatedAt); err != nil {
			return err
		}
		if u.LastSignInAt != nil {
			t, err := parseTime("lastSignInAt", *u.LastSignInAt)
			if err != nil {
				return err
			}
			d.User.LastSignInAt = &t
		}
	}
	if in.Impersonator != nil {
		d.Impersonator = &Impersonator{Email: in.Impersonator.Email, Reason: deref(in.Impersonator.Reason)}
	}
	return nil
}

// ErrInvalidSession means a sealed session could not be opened: it is
// malformed, was sealed with another password, or was tampered with.
var ErrInvalidSession = errors.New("gatehouse: invalid session cookie")

// SealSession seals d with password (at least 32 characters) into a cookie
// value in the Node SDK's iron format, readable by UnsealSession and by the
// WorkOS Node SDK.
func SealSession(d *SessionData, password string) (string, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	return seal(password, b)
}

// UnsealSession opens a cookie value sealed by SealSession or the WorkOS
// Node SDK. Any seal that is not a session sealed with password gives an
// error wrapping ErrInvalidSession.
func UnsealSession(sealed, password string) (*SessionData, error) {
	if err := checkPassword(password); err != nil {
		return nil, err
	}
	return unsealSession(sealed, password, time.Now())
}

func unsealSession(sealed, password string, now time.Time) (*SessionData, error) {
	plain, err := unseal(password, sealed, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSession, err)
	}
	var in sessionDataJSON
	var d SessionData
	if err := decodeSessionJSON(plain, &in); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSession, err)
	}
	if err := in.to(&d); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSession, err)
	}
	return &d, nil
}
