// Package e2e runs the whole browser flow end to end: it builds and starts
// `gatehouse dev`, starts the Express quickstart in examples/express against
// it, and drives both in headless Chromium with flow.mjs (sign up on the
// hosted pages with email verification, transparent token refresh,
// sign-out, sign-in again, the Gatehouse browser session, the sign-in
// endpoint redirect, a forgotten password reset by emailed link, and
// sign-in and sign-up with an emailed code). Emails are read from
// gatehouse dev's inbox, /_dev/inbox.json. dashboard_test.go and
// goexample_test.go drive the admin dashboard (dashboard.mjs) and the Go
// quickstart (goflow.mjs) the same way; the three scripts share their
// harness, lib.mjs, and the tests their helpers, helpers_test.go.
//
// It needs the system Chromium and the pinned npm packages:
//
//	apt-get install -y chromium
//	npm ci --prefix examples/express && npm ci --prefix test/e2e
//
// and never skips: a missing prerequisite fails with the command to fix it.
// Screenshots of a failing step are written under testout/ (e2e/express, e2e/dashboard, e2e-go).
package e2e
