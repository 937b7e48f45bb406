// Package node runs the official @workos-inc/node SDK (users.test.mjs for
// the Users API, email.test.mjs for email verification, password reset and
// Magic Auth; pinned in package.json) against a live Gatehouse on each
// storage backend, to prove wire compatibility with the real client rather
// than our reading of it.
package node
