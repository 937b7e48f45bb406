// Package gosdk tests the Go SDK (sdk/go/gatehouse) against the real
// Gatehouse server: it starts server.New behind httptest on SQLite, and on
// PostgreSQL when GATEHOUSE_TEST_POSTGRES_URL is set, and drives it only
// through the SDK (plus a cookie-keeping HTTP client for the hosted pages):
// sign-up, code exchange with and without PKCE, sealed sessions verified
// against the JWKS, transparent refresh in the middleware (also under
// concurrency), logout with an expired access token, typed errors, and
// pagination.
//
// The tests live in the main module because the SDK's own module must not
// import the server.
package gosdk
