// Package authflow is the domain logic of the hosted sign-in flow, with no
// HTTP in it: pending authorization requests, password sign-in and sign-up
// with brute-force throttling, Gatehouse's browser sessions, users' sessions
// with apps, single-use authorization codes, access tokens and rotating
// refresh tokens, and logout.
//
// The flow (workos-compat.md §3.1–3.3, §13):
//
//  1. StartAuthorization checks an app's /user_management/authorize request
//     and stores it, so any node can serve the next step.
//  2. The hosted pages call SignIn or SignUp (or find a live browser
//     session), then Complete, which consumes the request, starts a session
//     and returns the redirect to the app carrying a code.
//  3. The app's server calls Authenticate with the code (grant
//     authorization_code) and gets the user, an access token and a refresh
//     token; later it refreshes (grant refresh_token).
//  4. Logout ends the session and the browser session.
//
// Secrets are random 256-bit values; only their SHA-256 hashes are stored.
// Refresh tokens rotate and are single use. A token presented again within
// RefreshGrace of its first use (concurrent requests of one browser) gets
// the same successor; after that, reuse is treated as theft and ends the
// session.
package authflow
