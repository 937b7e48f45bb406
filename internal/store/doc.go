// Package store defines Gatehouse's storage contract: the entity types, the
// per-aggregate interfaces every backend implements, and the sentinel errors
// they return.
//
// Backends live in the sqlite and postgres subpackages; storetest holds the
// one conformance suite both run. Every method that touches data of an
// environment takes the environment ID, and no query may cross environments.
// Times are UTC with millisecond precision: backends truncate on write so a
// value read back equals the value written.
package store
