package gatehouse

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the JWKS cache.
const (
	DefaultJWKSCacheTTL = 10 * time.Minute
	DefaultJWKSCooldown = time.Minute
	// jwksFailureBackoff is how long a failed fetch is not retried; meanwhile
	// the previous keys (if any) stay in use.
	jwksFailureBackoff = 5 * time.Second
	jwksFetchTimeout   = 10 * time.Second
)

// keySet is one fetched JWKS.
type keySet struct {
	keys    map[string]*verifyKey
	fetched time.Time
}

// jwksFetch is one fetch in flight; concurrent lookups wait for it.
type jwksFetch struct {
	done chan struct{}
	set  *keySet
	err  error
}

// jwksCache holds an environment's verification keys. Lookups read an
// atomic pointer and never block while the keys are fresh. The keys are
// fetched when missing or older than ttl, and again when a token names an
// unknown kid (the server rotated keys), but then at most once per
// cooldown. Concurrent fetches are coalesced into one.
type jwksCache struct {
	url      string
	client   *Client
	ttl      time.Duration
	cooldown time.Duration
	now      func() time.Time

	set atomic.Pointer[keySet]

	mu          sync.Mutex
	inflight    *jwksFetch
	lastAttempt time.Time
	lastErr     error
	fetches     atomic.Int64 // for tests
}

// lookup returns the key with kid. It fails with errUnknownKey if the
// environment has no such key, or with the fetch's error if the keys could
// not be fetched at all.
func (c *jwksCache) lookup(ctx context.Context, kid string) (*verifyKey, error) {
	s := c.set.Load()
	if s == nil || c.now().Sub(s.fetched) >= c.ttl {
		ns, err := c.fetch(ctx, false)
		switch {
		case ns != nil:
			s = ns
		case s == nil && err != nil:
			return nil, err
		case s == nil:
			return nil, errUnknownKey
		}
		// On a failed refetch, the stale keys stay in use.
	}
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	ns, err := c.fetch(ctx, true)
	if err != nil {
		return nil, err
	}
	if ns != nil {
		if k, ok := ns.keys[kid]; ok {
			return k, nil
		}
	}
	return nil, errUnknownKey
}

// fetch fetches the keys, or joins a fetch in flight. For an unknown kid
// it fetches only if the last fetch began at least the cooldown ago, and
// otherwise returns nil, nil. After a failure it does not fetch again for
// a few seconds and returns that failure instead.
func (c *jwksCache) fetch(ctx context.Context, unknownKid bool) (*keySet, error) {
	c.mu.Lock()
	f := c.inflight
	if f == nil {
		now := c.now()
		since := now.Sub(c.lastAttempt)
		if s := c.set.Load(); !unknownKid && s != nil && now.Sub(s.fetched) < c.ttl {
			c.mu.Unlock()
			return s, nil // another lookup refreshed the keys meanwhile
		}
		if unknownKid && !c.lastAttempt.IsZero() && since < c.cooldown {
			c.mu.Unlock()
			return nil, nil
		}
		if c.lastErr != nil && since < min(jwksFailureBackoff, c.cooldown) {
			err := c.lastErr
			c.mu.Unlock()
			return nil, err
		}
		f = &jwksFetch{done: make(chan struct{})}
		c.inflight, c.lastAttempt = f, now
		c.mu.Unlock()
		// The fetch runs on its own, so a caller that gives up does not
		// fail the others waiting for it.
		go c.run(context.WithoutCancel(ctx), f)
	} else {
		c.mu.Unlock()
	}
	select {
	case <-f.done:
		return f.set, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *jwksCache) run(ctx context.Context, f *jwksFetch) {
	ctx, cancel := context.WithTimeout(ctx, min(jwksFetchTimeout, c.client.timeout))
	defer cancel()
	c.fetches.Add(1)
	keys, err := c.get(ctx)
	var s *keySet
	if err == nil {
		s = &keySet{keys: keys, fetched: c.now()}
	}
	c.mu.Lock()
	if s != nil {
		c.set.Store(s)
	}
	c.lastErr, c.inflight = err, nil
	c.mu.Unlock()
	f.set, f.err = s, err
	close(f.done)
}

// get downloads and parses the JWKS. It sends no API key: the JWKS is
// public.
func (c *jwksCache) get(ctx context.Context) (map[string]*verifyKey, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	req.Header.Set("User-Agent", c.client.userAgent)
	res, err := c.client.httpClient.Do(req)
	if err != nil {
		return nil, &NetworkError{Method: "GET", URL: c.url, Err: err}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, &NetworkError{Method: "GET", URL: c.url, Err: err}
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("gatehouse: fetch JWKS: %w", parseAPIError(res, body))
	}
	return parseJWKS(body)
}
