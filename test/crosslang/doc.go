// Package crosslang proves that Go and Node apps sharing a cookie password
// share sessions: it starts the real Gatehouse server in-process, signs a
// user in for real tokens, and passes the sealed wos-session cookie between
// the Go SDK (sdk/go/gatehouse) and the official @workos-inc/node SDK
// (session.mjs, run with node). A cookie Node seals authenticates in Go and
// the other way round, a session refreshed in one language reads in the
// other, and both seal byte-identical JSON payloads.
//
// It reuses the Node SDK pinned in test/node; install it with
//
//	npm ci --prefix test/node
//
// The test never skips: without node or the SDK it fails with that command.
package crosslang
