// Package storetest is the conformance suite every store backend runs:
// CRUD, not-found and conflict sentinels, environment isolation, time
// precision and zone, keyset pagination in both directions and orders, and
// atomic read-modify-write under concurrency.
//
// A backend's test calls Run with a function that returns a fresh, migrated,
// empty store for each subtest.
package storetest
