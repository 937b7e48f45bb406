package gatehouse

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Screen hints for AuthorizationURLParams.ScreenHint.
const (
	ScreenSignIn = "sign-in"
	ScreenSignUp = "sign-up"
)

// AuthorizationURLParams are the query parameters of the authorization
// URL (workos-compat.md §3.1). Only RedirectURI is required.
type AuthorizationURLParams struct {
	// RedirectURI is where the browser returns with ?code=…&state=…; it
	// must be registered with the environment.
	RedirectURI string
	// Provider is "authkit" (the default: Gatehouse's hosted pages) or an
	// OAuth provider such as "GoogleOAuth".
	Provider string
	// State is echoed back to RedirectURI byte for byte. Use it to carry a
	// CSRF nonce and where to return after sign-in.
	State string
	// ScreenHint opens the hosted sign-up page (ScreenSignUp) instead of
	// sign-in (ScreenSignIn, the default).
	ScreenHint string
	// LoginHint pre-fills the email address.
	LoginHint string
	// DomainHint, OrganizationID and ConnectionID select enterprise SSO.
	DomainHint     string
	OrganizationID string
	ConnectionID   string
	// Prompt is passed through to the provider (e.g. "login", "consent").
	Prompt string
	// MaxAge, if not nil, is the maximum age in seconds of the user's
	// authentication before they must sign in again.
	MaxAge *int
	// InvitationToken accepts an invitation while signing in.
	InvitationToken string
	// CodeChallenge is the PKCE S256 challenge from GeneratePKCE; the code
	// must then be exchanged with its verifier.
	CodeChallenge string
	// ProviderScopes are extra OAuth scopes asked of the provider.
	ProviderScopes []string
	// ProviderQueryParams are extra query parameters for the provider's
	// authorization URL.
	ProviderQueryParams map[string]string
}

// AuthorizationURL returns the URL to send a browser to sign in:
// <base>/user_management/authorize?client_id=…&redirect_uri=…&response_type=code&provider=authkit…
// It makes no request.
func (c *Client) AuthorizationURL(p AuthorizationURLParams) (string, error) {
	if c.clientID == "" {
		return "", errors.New("gatehouse: AuthorizationURL needs the client's client ID")
	}
	if p.RedirectURI == "" {
		return "", errors.New("gatehouse: AuthorizationURL needs a RedirectURI")
	}
	if p.ScreenHint != "" && p.ScreenHint != ScreenSignIn && p.ScreenHint != ScreenSignUp {
		return "", fmt.Errorf("gatehouse: ScreenHint %q must be %q or %q", p.ScreenHint, ScreenSignIn, ScreenSignUp)
	}
	provider := p.Provider
	if provider == "" {
		provider = "authkit"
	}
	q := url.Values{
		"client_id":     {c.clientID},
		"redirect_uri":  {p.RedirectURI},
		"response_type": {"code"},
		"provider":      {provider},
	}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("state", p.State)
	set("screen_hint", p.ScreenHint)
	set("login_hint", p.LoginHint)
	set("domain_hint", p.DomainHint)
	set("organization_id", p.OrganizationID)
	set("connection_id", p.ConnectionID)
	set("prompt", p.Prompt)
	set("invitation_token", p.InvitationToken)
	if p.MaxAge != nil {
		q.Set("max_age", strconv.Itoa(*p.MaxAge))
	}
	if p.CodeChallenge != "" {
		q.Set("code_challenge", p.CodeChallenge)
		q.Set("code_challenge_method", "S256")
	}
	if len(p.ProviderScopes) > 0 {
		q.Set("provider_scopes", strings.Join(p.ProviderScopes, ","))
	}
	for k, v := range p.ProviderQueryParams {
		q.Set("provider_query_params["+k+"]", v)
	}
	return c.baseURL + "/user_management/authorize?" + q.Encode(), nil
}

// GeneratePKCE returns a PKCE code verifier (43 characters: 256 random bits,
// base64url) and its S256 challenge (RFC 7636 §4). Put the challenge in
// AuthorizationURLParams.CodeChallenge, keep the verifier (in a cookie or
// the server-side session) and send it with AuthenticateWithCode.
func GeneratePKCE() (verifier, challenge string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	verifier = b64u.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(verifier))
	return verifier, b64u.EncodeToString(sum[:]), nil
}

// LogoutURL returns the URL to send a browser to end a session:
// <base>/user_management/sessions/logout?session_id=…&return_to=…
// Gatehouse ends the session, then redirects to returnTo if it is a
// registered sign-out redirect, else to the environment's default one.
// returnTo may be "". SessionManager.LogoutURL finds the session ID in a
// session cookie.
func (c *Client) LogoutURL(sessionID, returnTo string) string {
	q := url.Values{"session_id": {sessionID}}
	if returnTo != "" {
		q.Set("return_to", returnTo)
	}
	return c.baseURL + "/user_management/sessions/logout?" + q.Encode()
}

// JWKSURL returns the URL of the environment's JSON Web Key Set, the public
// keys that verify access tokens: <base>/sso/jwks/<client_id>.
func (c *Client) JWKSURL() string {
	return c.baseURL + "/sso/jwks/" + pathEscape(c.clientID)
}
