package gatehouse

import (
	"context"
	"errors"
	"fmt"
	"net/url"
)

// CreateUserParams describe a new user. Only Email is required.
type CreateUserParams struct {
	Email string `json:"email"`
	// Password (8 to 256 characters, not a common password), or an
	// imported PasswordHash with its PasswordHashType ("bcrypt" or
	// "argon2").
	Password         string            `json:"password,omitempty"`
	PasswordHash     string            `json:"password_hash,omitempty"`
	PasswordHashType string            `json:"password_hash_type,omitempty"`
	FirstName        string            `json:"first_name,omitempty"`
	LastName         string            `json:"last_name,omitempty"`
	Name             string            `json:"name,omitempty"`
	EmailVerified    bool              `json:"email_verified,omitempty"`
	ExternalID       string            `json:"external_id,omitempty"`
	Metadata         map[string]string `json:"metadata,omitempty"`
}

// UserField names a nullable field of a user, for UpdateUserParams.Clear.
type UserField string

// The user fields UpdateUser can set to null.
const (
	FieldFirstName  UserField = "first_name"
	FieldLastName   UserField = "last_name"
	FieldName       UserField = "name"
	FieldExternalID UserField = "external_id"
	FieldLocale     UserField = "locale"
)

// UpdateUserParams change a user. Nil fields are left as they are.
type UpdateUserParams struct {
	// Email changes the address (and resets EmailVerified).
	Email         *string
	EmailVerified *bool
	FirstName     *string
	LastName      *string
	Name          *string
	ExternalID    *string
	Locale        *string
	// Password sets a new password; PasswordHash and PasswordHashType
	// import a hash instead.
	Password         *string
	PasswordHash     *string
	PasswordHashType *string
	// Metadata is merged into the user's metadata: a key with a nil value
	// is deleted, other keys are set.
	Metadata map[string]*string
	// Clear sets these fields to null (removes the name, external ID or
	// locale). A field may not be both set and cleared.
	Clear []UserField
}

// body returns the request body: only set fields, and null for cleared ones.
func (p UpdateUserParams) body() (map[string]any, error) {
	b := map[string]any{}
	add := func(k string, v any, set bool) {
		if set {
			b[k] = v
		}
	}
	add("email", p.Email, p.Email != nil)
	add("email_verified", p.EmailVerified, p.EmailVerified != nil)
	add("first_name", p.FirstName, p.FirstName != nil)
	add("last_name", p.LastName, p.LastName != nil)
	add("name", p.Name, p.Name != nil)
	add("external_id", p.ExternalID, p.ExternalID != nil)
	add("locale", p.Locale, p.Locale != nil)
	add("password", p.Password, p.Password != nil)
	add("password_hash", p.PasswordHash, p.PasswordHash != nil)
	add("password_hash_type", p.PasswordHashType, p.PasswordHashType != nil)
	add("metadata", p.Metadata, p.Metadata != nil)
	for _, f := range p.Clear {
		switch f {
		case FieldFirstName, FieldLastName, FieldName, FieldExternalID, FieldLocale:
		default:
			return nil, fmt.Errorf("gatehouse: UpdateUserParams.Clear: %q cannot be cleared", f)
		}
		if _, set := b[string(f)]; set {
			return nil, fmt.Errorf("gatehouse: UpdateUserParams: %s is both set and cleared", f)
		}
		b[string(f)] = nil
	}
	return b, nil
}

// CreateUser creates a user. A duplicate email or external ID fails with
// ErrConflict, invalid fields with ErrUnprocessable.
func (c *Client) CreateUser(ctx context.Context, p CreateUserParams) (*User, error) {
	var u User
	if err := c.do(ctx, "POST", "/user_management/users", nil, p, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// GetUser returns a user by ID, or ErrNotFound.
func (c *Client) GetUser(ctx context.Context, id string) (*User, error) {
	if id == "" {
		return nil, errors.New("gatehouse: GetUser needs an ID")
	}
	var u User
	if err := c.do(ctx, "GET", "/user_management/users/"+pathEscape(id), nil, nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// GetUserByExternalID returns the user with an external ID (your own ID
// for them), or ErrNotFound.
func (c *Client) GetUserByExternalID(ctx context.Context, externalID string) (*User, error) {
	if externalID == "" {
		return nil, errors.New("gatehouse: GetUserByExternalID needs an external ID")
	}
	var u User
	if err := c.do(ctx, "GET", "/user_management/users/external_id/"+pathEscape(externalID), nil, nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// ListUsersParams filter and page the user list.
type ListUsersParams struct {
	ListParams
	// Email finds the user with this address.
	Email string
	// OrganizationID lists an organization's members.
	OrganizationID string
}

// ListUsers returns an iterator over the environment's users, newest first
// unless p.Order says otherwise.
func (c *Client) ListUsers(ctx context.Context, p ListUsersParams) *Iterator[User] {
	f := url.Values{}
	if p.Email != "" {
		f.Set("email", p.Email)
	}
	if p.OrganizationID != "" {
		f.Set("organization_id", p.OrganizationID)
	}
	return list[User](c, "/user_management/users", p.ListParams, f)
}

// UpdateUser changes a user and returns it as updated.
func (c *Client) UpdateUser(ctx context.Context, id string, p UpdateUserParams) (*User, error) {
	if id == "" {
		return nil, errors.New("gatehouse: UpdateUser needs an ID")
	}
	body, err := p.body()
	if err != nil {
		return nil, err
	}
	var u User
	if err := c.do(ctx, "PUT", "/user_management/users/"+pathEscape(id), nil, body, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// DeleteUser deletes a user and everything that belongs to them, or fails
// with ErrNotFound.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("gatehouse: DeleteUser needs an ID")
	}
	return c.do(ctx, "DELETE", "/user_management/users/"+pathEscape(id), nil, nil, nil)
}
