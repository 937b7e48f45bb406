// Package storetest is the conformance suite every store backend runs:
// CRUD, not-found and conflict sentinels, environment isolation, time
// precision and zone, keyset pagination in both directions and orders,
// atomic read-modify-write under concurrency, the single-use and
// first-writer-wins rules of signing keys, authorization codes, refresh
// tokens, admin tokens and failure counters under racing callers, the
// activity log, user search (case-insensitive prefixes, LIKE
// metacharacters taken literally, combined with pagination), the email
// outbox (claims that never overlap, lease expiry and takeover, outcomes
// refused to a worker that lost its claim) and emailed challenges.
//
// A backend's test calls Run with a function that returns a fresh, migrated,
// empty store for each subtest, and RunUserScale with a store and a bulk
// insert to check that listing and searching 100,000 users stays fast.
package storetest
