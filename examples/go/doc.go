// Command go is the AuthKit quickstart of examples/express written in Go
// with the standard library and Gatehouse's Go SDK
// (github.com/gatehouse/gatehouse/sdk/go/gatehouse): sign in through
// Gatehouse's hosted pages, a session sealed in the wos-session cookie (in
// the WorkOS Node SDK's format, so the Express app and this one can share
// it), a dashboard protected by the SDK's middleware with transparent
// token refresh, and a CSRF-protected sign-out.
//
// Start Gatehouse first, then the app, both from the repository root:
//
//	go run ./cmd/gatehouse dev
//	go run ./examples/go
//
// and open http://localhost:3000. The app reads GATEHOUSE_URL,
// WORKOS_API_KEY, WORKOS_CLIENT_ID and WORKOS_COOKIE_PASSWORD from the
// environment or from the env file `gatehouse dev` writes
// (.gatehouse/dev.env; see README.md for every setting).
package main
