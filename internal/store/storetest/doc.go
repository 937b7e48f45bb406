// Package storetest is the conformance suite every store backend runs:
// CRUD, not-found and conflict sentinels, environment isolation, time
// precision and zone, keyset pagination in both directions and orders,
// atomic read-modify-write under concurrency, and the single-use and
// first-writer-wins rules of signing keys, authorization codes, refresh
// tokens and failure counters under racing callers.
//
// A backend's test calls Run with a function that returns a fresh, migrated,
// empty store for each subtest.
package storetest
