// Package adminauth owns the dashboard's operators (admins) and how they
// prove who they are. Admins are separate from end users: they belong to no
// environment, live in their own tables, and an end user's session can never
// stand in for an admin's.
//
// An admin has an email, an argon2id password (never a default one) and,
// optionally, a TOTP second factor (RFC 6238: HMAC-SHA-1, 6 digits, 30 s
// steps, ±1 step of drift) whose secret is sealed with the master key.
//
// Admins get in three ways:
//
//   - A one-time sign-in link (purpose "sign_in", valid 15 minutes), which
//     gatehouse dev prints on every start for the local admin@localhost.
//   - A one-time set-up link (purpose "setup", valid 24 hours), which
//     gatehouse admin create prints; the admin chooses a password with it.
//   - Email and password (then a TOTP code when enabled), throttled per
//     email and per IP address, with one generic error for every failure.
//
// Link tokens and session tokens are 256-bit random values stored only as
// SHA-256 hashes. A dashboard session ends after 30 minutes without
// activity or 12 hours after sign-in, whichever comes first.
//
// Every sign-in, sign-out and account change is written to the activity log
// as an admin.* event of no environment.
package adminauth
