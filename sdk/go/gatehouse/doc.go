// Package gatehouse is the Go SDK for Gatehouse, a self-hosted
// authentication server that speaks the WorkOS User Management (AuthKit)
// API. It uses the standard library only.
//
// It has three parts:
//
//   - Client calls the API: it builds the authorization and logout URLs,
//     runs the sign-in grants of POST /user_management/authenticate, and
//     manages users and sessions. Every call takes a context, retries
//     429, 5xx and network failures with backoff (honouring Retry-After),
//     and fails with a *APIError or *NetworkError that errors.Is matches
//     against ErrNotFound, ErrUnauthorized, ErrConflict, ErrUnprocessable,
//     ErrRateLimited and ErrInvalidGrant.
//   - SessionManager keeps a signed-in user in a cookie sealed in the WorkOS
//     Node SDK's iron format (so Node and Go apps can share cookies), checks
//     the access token against the environment's JWKS, refreshes it, and
//     builds logout URLs.
//   - SessionManager.Middleware protects net/http handlers: it puts the
//     session in the request context (SessionFromContext), refreshes expired
//     access tokens transparently, and sends signed-out users to sign in.
//
// A typical app:
//
//	client, err := gatehouse.NewClientFromEnv() // GATEHOUSE_URL, WORKOS_API_KEY, WORKOS_CLIENT_ID
//	sessions, err := gatehouse.NewSessionManager(client, cookiePassword, gatehouse.SessionOptions{})
//	mux.HandleFunc("GET /login", …)    // redirect to client.AuthorizationURL(…)
//	mux.HandleFunc("GET /callback", …) // client.AuthenticateWithCode, sessions.Seal, sessions.SetCookie
//	mux.Handle("/app/", sessions.Middleware(gatehouse.MiddlewareOptions{})(appHandler))
//
// See the examples for each step.
package gatehouse
