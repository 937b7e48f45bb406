package idempotency

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/store"
)

const (
	// TTL is how long a response is kept for retries: far longer than a
	// client's retries take (the WorkOS SDKs give up within minutes), and
	// short, since it may hold live tokens.
	TTL = 10 * time.Minute
	// MaxKeyLen is the longest Idempotency-Key accepted.
	MaxKeyLen = 255
	// staleAfter is when a claim still unfinished is taken to be
	// abandoned: twice the longest a request may run (the server's write
	// timeout is 60 s).
	staleAfter = 2 * time.Minute
	// poll is how often a retry waiting for the first request looks again.
	poll = 50 * time.Millisecond
)

var (
	// ErrKeyReused means the key came with a different request before.
	ErrKeyReused = errors.New("idempotency: key used with a different request")
	// ErrInProgress means the first request with the key is still running.
	ErrInProgress = errors.New("idempotency: a request with this key is still running")
)

// Service keeps responses by key.
type Service struct {
	Store store.Idempotency
	Box   *secretbox.Box
	Now   func() time.Time
	// Wait is how long a retry waits for the first request to finish
	// before ErrInProgress; 0 means 5 s.
	Wait time.Duration
}

// Response is what is kept of a response.
type Response struct {
	Status int                 `json:"status"`
	Header map[string][]string `json:"header"`
	Body   []byte              `json:"body"`
}

// Claim is a request's hold on its key: end it with Finish or Release.
type Claim struct {
	s   *Service
	key []byte
	at  time.Time
}

// Begin looks up key in scope (the endpoint) for request (its bytes, which
// a retry must repeat). It returns the kept response of an earlier request
// to replay, or a Claim under which to run this one.
func (s *Service) Begin(ctx context.Context, scope, key string, request []byte) (*Response, *Claim, error) {
	if key == "" || len(key) > MaxKeyLen {
		return nil, nil, fmt.Errorf("idempotency: key of %d bytes", len(key))
	}
	kh := sha256.Sum256([]byte(scope + "\x00" + key))
	rh := sha256.Sum256(request)
	wait := s.Wait
	if wait <= 0 {
		wait = 5 * time.Second
	}
	deadline := time.Now().Add(wait) // the wall clock, whatever s.Now says
	for {
		now := store.Truncate(s.Now())
		rec := &store.IdempotencyRecord{Key: kh[:], RequestHash: rh[:], CreatedAt: now, ExpiresAt: now.Add(TTL)}
		claimed, existing, err := s.Store.ClaimIdempotencyKey(ctx, rec, now.Add(-staleAfter))
		switch {
		case err != nil:
			return nil, nil, err
		case claimed:
			return nil, &Claim{s: s, key: kh[:], at: now}, nil
		case subtle.ConstantTimeCompare(existing.RequestHash, rh[:]) != 1:
			return nil, nil, ErrKeyReused
		case existing.Status != 0:
			plain, err := s.Box.Open(existing.Response, kh[:])
			if err != nil {
				return nil, nil, fmt.Errorf("idempotency: open the kept response: %w", err)
			}
			var r Response
			if err := json.Unmarshal(plain, &r); err != nil {
				return nil, nil, fmt.Errorf("idempotency: kept response: %w", err)
			}
			return &r, nil, nil
		case !time.Now().Before(deadline):
			return nil, nil, ErrInProgress
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// Finish keeps r as the response to replay for the claim's key.
func (c *Claim) Finish(ctx context.Context, r Response) error {
	plain, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return c.s.Store.CompleteIdempotencyKey(ctx, c.key, c.at, r.Status, c.s.Box.Seal(plain, c.key))
}

// Release gives the key up, so that a retry runs the request again (for
// responses that say nothing about the request, such as a server error).
func (c *Claim) Release(ctx context.Context) error {
	return c.s.Store.ReleaseIdempotencyKey(ctx, c.key, c.at)
}
