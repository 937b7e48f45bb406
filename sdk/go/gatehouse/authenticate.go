package gatehouse

import (
	"context"
	"errors"
)

// The grant types of POST /user_management/authenticate.
const (
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
	grantPassword          = "password"
	grantEmailVerification = "urn:workos:oauth:grant-type:email-verification:code"
)

// AuthenticateWithCodeParams exchange the code the browser brought back to
// the redirect URI.
type AuthenticateWithCodeParams struct {
	Code string
	// CodeVerifier is the PKCE verifier, needed when the authorization URL
	// carried a CodeChallenge.
	CodeVerifier string
	// InvitationToken accepts an invitation with the sign-in.
	InvitationToken string
	// IPAddress and UserAgent are the browser's, recorded on the session.
	IPAddress string
	UserAgent string
}

// AuthenticateWithRefreshTokenParams refresh a session.
type AuthenticateWithRefreshTokenParams struct {
	RefreshToken string
	// OrganizationID switches the session to that organization.
	OrganizationID string
	IPAddress      string
	UserAgent      string
}

// AuthenticateWithPasswordParams sign a user in with an email and password
// collected by the app itself (it needs the API key).
type AuthenticateWithPasswordParams struct {
	Email           string
	Password        string
	InvitationToken string
	IPAddress       string
	UserAgent       string
}

// AuthenticateWithEmailVerificationParams complete a sign-in that failed
// with ErrEmailVerificationRequired: the code is the one emailed to the
// user, the token is APIError.PendingAuthenticationToken.
type AuthenticateWithEmailVerificationParams struct {
	Code                       string
	PendingAuthenticationToken string
	IPAddress                  string
	UserAgent                  string
}

// authenticateRequest is the JSON body of every grant.
type authenticateRequest struct {
	GrantType       string `json:"grant_type"`
	ClientID        string `json:"client_id"`
	ClientSecret    string `json:"client_secret,omitempty"`
	Code            string `json:"code,omitempty"`
	CodeVerifier    string `json:"code_verifier,omitempty"`
	RefreshToken    string `json:"refresh_token,omitempty"`
	OrganizationID  string `json:"organization_id,omitempty"`
	Email           string `json:"email,omitempty"`
	Password        string `json:"password,omitempty"`
	InvitationToken string `json:"invitation_token,omitempty"`
	PendingToken    string `json:"pending_authentication_token,omitempty"`
	IPAddress       string `json:"ip_address,omitempty"`
	UserAgent       string `json:"user_agent,omitempty"`
}

func (c *Client) authenticate(ctx context.Context, r authenticateRequest) (*AuthResponse, error) {
	if c.clientID == "" {
		return nil, errors.New("gatehouse: authenticating needs the client's client ID")
	}
	r.ClientID, r.ClientSecret = c.clientID, c.apiKey
	var out AuthResponse
	if err := c.do(ctx, "POST", "/user_management/authenticate", nil, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AuthenticateWithCode exchanges an authorization code for the user and
// their tokens (grant authorization_code). A code works once, for 10
// minutes; a used, expired or unknown code fails with ErrInvalidGrant.
func (c *Client) AuthenticateWithCode(ctx context.Context, p AuthenticateWithCodeParams) (*AuthResponse, error) {
	if p.Code == "" {
		return nil, errors.New("gatehouse: AuthenticateWithCode needs a Code")
	}
	return c.authenticate(ctx, authenticateRequest{GrantType: grantAuthorizationCode, Code: p.Code, CodeVerifier: p.CodeVerifier,
		InvitationToken: p.InvitationToken, IPAddress: p.IPAddress, UserAgent: p.UserAgent})
}

// AuthenticateWithRefreshToken exchanges a refresh token for a new access
// token and the refresh token's successor (grant refresh_token). Refresh
// tokens are single use; presenting one again within 10 seconds returns
// the same successor, later it fails with ErrInvalidGrant and ends the
// session.
func (c *Client) AuthenticateWithRefreshToken(ctx context.Context, p AuthenticateWithRefreshTokenParams) (*AuthResponse, error) {
	if p.RefreshToken == "" {
		return nil, errors.New("gatehouse: AuthenticateWithRefreshToken needs a RefreshToken")
	}
	return c.authenticate(ctx, authenticateRequest{GrantType: grantRefreshToken, RefreshToken: p.RefreshToken,
		OrganizationID: p.OrganizationID, IPAddress: p.IPAddress, UserAgent: p.UserAgent})
}

// AuthenticateWithPassword checks an email and password (grant password).
// A wrong email or password is a 400 with Code "invalid_credentials";
// repeated failures are throttled with ErrRateLimited. A user whose email
// is not verified yet gets ErrEmailVerificationRequired: Gatehouse emails a
// code, and AuthenticateWithEmailVerification finishes the sign-in.
func (c *Client) AuthenticateWithPassword(ctx context.Context, p AuthenticateWithPasswordParams) (*AuthResponse, error) {
	return c.authenticate(ctx, authenticateRequest{GrantType: grantPassword, Email: p.Email, Password: p.Password,
		InvitationToken: p.InvitationToken, IPAddress: p.IPAddress, UserAgent: p.UserAgent})
}

// AuthenticateWithEmailVerification finishes a sign-in that needed the
// user's email verified (grant email-verification:code), with the emailed
// code and the pending authentication token of the
// ErrEmailVerificationRequired error.
func (c *Client) AuthenticateWithEmailVerification(ctx context.Context, p AuthenticateWithEmailVerificationParams) (*AuthResponse, error) {
	if p.Code == "" || p.PendingAuthenticationToken == "" {
		return nil, errors.New("gatehouse: AuthenticateWithEmailVerification needs a Code and a PendingAuthenticationToken")
	}
	return c.authenticate(ctx, authenticateRequest{GrantType: grantEmailVerification, Code: p.Code,
		PendingToken: p.PendingAuthenticationToken, IPAddress: p.IPAddress, UserAgent: p.UserAgent})
}
