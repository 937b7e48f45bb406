// Package faults runs the real `gatehouse serve` binary as a subprocess and
// breaks what it depends on while it works, then checks what survived:
//
//   - TestSQLiteKillDuringSignUpStorm: 16 concurrent clients create users
//     (the Users API with a password or an imported argon2id hash, and
//     hosted sign-ups) and the server gets SIGKILL mid-storm. On the same
//     file: PRAGMA integrity_check is ok, foreign keys hold, no user row is
//     half-written and no row points at a missing user or session, every
//     acknowledged sign-up exists (by ID and by email, with what was sent,
//     and its password works), no user exists whose request was answered
//     with an error, and the restarted server serves again.
//   - TestPostgresStoppedAndRestartedUnderLoad: a private PostgreSQL
//     cluster (initdb into a temporary directory, run as the postgres OS
//     user when the test runs as root; the shared cluster is never stopped)
//     is stopped with pg_ctl stop -m fast under a steady load of user reads,
//     refresh-token rotations, hosted sign-in starts and JWKS fetches, then
//     started again. Every request is answered within 2 s; while the
//     database is down the database-bound ones get 503 with Retry-After,
//     /healthz 200 and /readyz 503; no session is lost; the process does not
//     crash; and without a restart of Gatehouse every kind of request
//     succeeds again within 10 s.
//   - TestTwoNodesOnePostgres: two `gatehouse serve` processes on one
//     PostgreSQL schema (pgtest.NewURL), the test's client alternating nodes
//     per request: a whole hosted flow (sign-up, emailed code, exchange,
//     refresh, logout, sign-in) whose steps alternate nodes; concurrent
//     refreshes of one token on both nodes share one successor, and a reuse
//     after the grace window ends the session on both; the brute-force
//     limit and its back-off hold across nodes; and `gatehouse keys rotate`
//     reaches both nodes' JWKS within their 30 s key cache. With a
//     publish-ahead longer than the cache, tokens from either node verify
//     against either node's JWKS throughout; with --publish-ahead 0s the test
//     logs the window in which they do not (the documented cost of 0s).
//
// The binary is built once per run with `go build` into a temporary
// directory; email goes to an SMTP sink in the test process
// (github.com/emersion/go-smtp). The tests run in plain `go test ./...`:
// TestTwoNodesOnePostgres follows pgtest (skips without
// GATEHOUSE_TEST_POSTGRES_URL or under -short, fails instead when
// GATEHOUSE_TEST_REQUIRE_POSTGRES=1), and the private-cluster test skips
// only when the PostgreSQL server binaries are absent or under -short,
// failing instead under GATEHOUSE_TEST_REQUIRE_POSTGRES=1. All traffic stays
// on 127.0.0.1 and every load loop is bounded in count and time.
package faults
