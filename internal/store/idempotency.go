package store

import (
	"context"
	"time"
)

// Idempotency keeps the first response to a request sent with an
// Idempotency-Key header, so that a client retrying it after a lost
// response (a code exchange, say, whose code is then used) gets that
// response rather than running the request again.
type Idempotency interface {
	// ClaimIdempotencyKey stores r, pending (Status 0, no Response), unless
	// a record with its Key exists that is neither expired at r.CreatedAt
	// nor pending since before staleBefore (an abandoned claim); such
	// records are replaced. It reports whether r was stored (the caller
	// then runs the request and completes or releases the key) and, if
	// not, returns the record that stands.
	ClaimIdempotencyKey(ctx context.Context, r *IdempotencyRecord, staleBefore time.Time) (claimed bool, existing *IdempotencyRecord, err error)
	// CompleteIdempotencyKey stores the response of the pending record
	// claimed at createdAt. ErrNotFound if that claim no longer stands.
	CompleteIdempotencyKey(ctx context.Context, key []byte, createdAt time.Time, status int, response string) error
	// ReleaseIdempotencyKey deletes the pending record claimed at
	// createdAt, so that the request may run again. ErrNotFound if that
	// claim no longer stands.
	ReleaseIdempotencyKey(ctx context.Context, key []byte, createdAt time.Time) error
}

// IdempotencyRecord is one Idempotency-Key seen.
type IdempotencyRecord struct {
	Key         []byte // hash of the endpoint and the header's value
	RequestHash []byte // hash of the request, which a retry must repeat
	Status      int    // the response's HTTP status; 0 while the first request runs
	Response    string // the response, sealed (it may hold tokens)
	CreatedAt   time.Time
	ExpiresAt   time.Time
}
