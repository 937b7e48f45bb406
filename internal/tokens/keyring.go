package tokens

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/store"
)

// DefaultPublishAhead is how long a rotated-in key is published in the JWKS
// before it signs. SDKs cache the JWKS for 10 minutes (jose's default, as
// the Node SDK uses it), so by the time the key signs every SDK has seen it.
const DefaultPublishAhead = 10 * time.Minute

const (
	// cacheTTL is how old a node's copy of an environment's keys may get
	// before it is reloaded, so rotations made elsewhere are seen in time.
	cacheTTL = 30 * time.Second
	// retireSlack keeps an old key published a little past the expiry of
	// the last token it can have signed, for clock skew between nodes.
	retireSlack = time.Minute
)

// Keyring hands out each environment's signing key and JWKS, creating the
// first key on demand and rotating keys, on top of store.SigningKeys. It
// caches decrypted keys per environment (see the package doc) and is safe
// for concurrent use and must not be copied after first use. Store and Box
// must be set; Now defaults to time.Now.
type Keyring struct {
	// Store holds the keys, private halves sealed with Box.
	Store store.SigningKeys
	// Box seals and opens private keys with the master key.
	Box *secretbox.Box
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	envs sync.Map // environment ID → *envKeys
}

// envKeys is one environment's cache entry.
type envKeys struct {
	mu   sync.Mutex // serialises loads and first-key creation
	gen  atomic.Uint64
	snap atomic.Pointer[snapshot]
}

// snapshot is an immutable view of an environment's keys as loaded at one
// time.
type snapshot struct {
	staleAt time.Time
	keys    []ringKey // ordered by activation time, then ID, as the store lists them
	jwks    []byte
	set     JWKS
}

type ringKey struct {
	key         *Key
	activatesAt time.Time
}

// Signer returns the key that signs env's tokens now: the newest key whose
// activation time has passed. If the environment has no key yet, it makes
// one with the environment's algorithm, active at once, and stores it with
// CreateFirstSigningKey; if another node got there first, it uses that
// node's key instead. On the hot path it is a cache lookup.
func (r *Keyring) Signer(ctx context.Context, env *store.Environment) (*Key, error) {
	if env == nil {
		return nil, errors.New("signer: no environment")
	}
	now := r.now()
	if s := r.cached(env.ID, now); s != nil {
		return s.signer(now), nil
	}
	e := r.entry(env.ID)
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := r.loadLocked(ctx, e, env.ID, now)
	if err != nil {
		return nil, err
	}
	if len(s.keys) > 0 {
		return s.signer(now), nil
	}

	k, err := GenerateKey(env.WithDefaults().SigningAlgorithm)
	if err != nil {
		return nil, err
	}
	sk, err := r.seal(env.ID, k, store.Truncate(now), store.Truncate(now))
	if err != nil {
		return nil, err
	}
	if _, err := r.Store.CreateFirstSigningKey(ctx, sk); err != nil {
		return nil, fmt.Errorf("create first signing key: %w", err)
	}
	// Whether this node's key went in or another node's did, the store now
	// holds the one first key; load it.
	e.snap.Store(nil)
	if s, err = r.loadLocked(ctx, e, env.ID, now); err != nil {
		return nil, err
	}
	if len(s.keys) == 0 {
		return nil, fmt.Errorf("signer: environment %s has only expired signing keys; rotate to make a new one", env.ID)
	}
	return s.signer(now), nil
}

// JWKS returns the environment's JWK Set, {"keys":[…]}, for
// /sso/jwks/{client_id}: every key the store lists, including keys not yet
// active and retired keys until they expire, ordered by activation time
// then kid. An environment without keys has {"keys":[]}; JWKS never makes a
// key.
func (r *Keyring) JWKS(ctx context.Context, envID string) ([]byte, error) {
	s, err := r.snapshot(ctx, envID)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(s.jwks), nil
}

// KeySet returns the keys JWKS publishes, parsed, for Verify.
func (r *Keyring) KeySet(ctx context.Context, envID string) (JWKS, error) {
	s, err := r.snapshot(ctx, envID)
	if err != nil {
		return JWKS{}, err
	}
	return JWKS{Keys: slices.Clone(s.set.Keys)}, nil
}

// Rotate makes a new key with env's current algorithm that is published at
// once and signs from now+publishAhead (normally DefaultPublishAhead; 0
// switches at once, at the cost of SDKs that cached the JWKS failing until
// they refetch it). In the same transaction every older key is retired at
// the new key's activation + env's access-token TTL + 1 minute, when the
// last token it signed has expired. This node sees the rotation at once,
// other nodes within 30 seconds.
func (r *Keyring) Rotate(ctx context.Context, env *store.Environment, publishAhead time.Duration) (*store.SigningKey, error) {
	if env == nil {
		return nil, errors.New("rotate: no environment")
	}
	if publishAhead < 0 {
		return nil, fmt.Errorf("rotate: negative publish-ahead %v", publishAhead)
	}
	e := env.WithDefaults()
	k, err := GenerateKey(e.SigningAlgorithm)
	if err != nil {
		return nil, err
	}
	now := store.Truncate(r.now())
	activates := now.Add(publishAhead)
	sk, err := r.seal(env.ID, k, now, activates)
	if err != nil {
		return nil, err
	}
	if err := r.Store.RotateSigningKey(ctx, sk, activates.Add(e.AccessTokenTTL+retireSlack)); err != nil {
		return nil, fmt.Errorf("rotate signing key: %w", err)
	}
	r.Invalidate(env.ID)
	return sk, nil
}

// Invalidate drops this node's cached keys for an environment, so the next
// call reloads them from the store.
func (r *Keyring) Invalidate(envID string) {
	if v, ok := r.envs.Load(envID); ok {
		e := v.(*envKeys)
		e.gen.Add(1)
		e.snap.Store(nil)
	}
}

func (r *Keyring) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// cached returns the environment's snapshot if it is fresh and has a key.
func (r *Keyring) cached(envID string, now time.Time) *snapshot {
	v, ok := r.envs.Load(envID)
	if !ok {
		return nil
	}
	s := v.(*envKeys).snap.Load()
	if s == nil || !now.Before(s.staleAt) || len(s.keys) == 0 {
		return nil
	}
	return s
}

func (r *Keyring) entry(envID string) *envKeys {
	if v, ok := r.envs.Load(envID); ok {
		return v.(*envKeys)
	}
	v, _ := r.envs.LoadOrStore(envID, new(envKeys))
	return v.(*envKeys)
}

// snapshot returns a fresh snapshot, loading it if needed.
func (r *Keyring) snapshot(ctx context.Context, envID string) (*snapshot, error) {
	now := r.now()
	if s := r.cached(envID, now); s != nil {
		return s, nil
	}
	e := r.entry(envID)
	e.mu.Lock()
	defer e.mu.Unlock()
	return r.loadLocked(ctx, e, envID, now)
}

// loadLocked returns e's snapshot if it is still fresh (another caller may
// have loaded it while this one waited for e.mu), or loads a new one. A
// snapshot without keys is never fresh, so a first key made on another node
// is seen at once.
func (r *Keyring) loadLocked(ctx context.Context, e *envKeys, envID string, now time.Time) (*snapshot, error) {
	if s := e.snap.Load(); s != nil && now.Before(s.staleAt) {
		return s, nil
	}
	if r.Store == nil || r.Box == nil {
		return nil, errors.New("keyring: Store and Box must be set")
	}
	gen := e.gen.Load()
	list, err := r.Store.ListSigningKeys(ctx, envID, now)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	s := &snapshot{staleAt: now.Add(cacheTTL), keys: make([]ringKey, 0, len(list)), set: JWKS{Keys: make([]PublicKey, 0, len(list))}}
	var jwks bytes.Buffer
	jwks.WriteString(`{"keys":[`)
	for i, sk := range list {
		der, err := r.Box.Open(sk.PrivateKey, keyAAD(sk.ID))
		if err != nil {
			return nil, fmt.Errorf("open signing key %s: %w", sk.ID, err)
		}
		k, err := ParsePrivate(sk.ID, sk.Algorithm, der)
		clear(der)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", sk.ID, err)
		}
		s.keys = append(s.keys, ringKey{key: k, activatesAt: sk.ActivatesAt})
		s.set.Keys = append(s.set.Keys, k.Public())
		if i > 0 {
			jwks.WriteByte(',')
		}
		jwks.Write(k.jwk)
		// Reload when a key expires, so it leaves the JWKS on time.
		if sk.ExpiresAt != nil && sk.ExpiresAt.Before(s.staleAt) {
			s.staleAt = *sk.ExpiresAt
		}
	}
	jwks.WriteString(`]}`)
	s.jwks = jwks.Bytes()
	if len(s.keys) == 0 {
		s.staleAt = now
	}
	if e.gen.Load() == gen {
		e.snap.Store(s)
	}
	return s, nil
}

// signer picks the newest key active at now. Should none be active yet (a
// first key made on a node whose clock runs ahead), the oldest key signs.
func (s *snapshot) signer(now time.Time) *Key {
	for i := len(s.keys) - 1; i >= 0; i-- {
		if !s.keys[i].activatesAt.After(now) {
			return s.keys[i].key
		}
	}
	return s.keys[0].key
}

// seal makes the store row for k, its private key sealed to its ID.
func (r *Keyring) seal(envID string, k *Key, now, activates time.Time) (*store.SigningKey, error) {
	if r.Box == nil {
		return nil, errors.New("keyring: Box must be set")
	}
	der, err := k.MarshalPrivate()
	if err != nil {
		return nil, err
	}
	sealed := r.Box.Seal(der, keyAAD(k.ID))
	clear(der)
	return &store.SigningKey{
		ID:            k.ID,
		EnvironmentID: envID,
		Algorithm:     k.Algorithm,
		PrivateKey:    sealed,
		PublicJWK:     string(k.jwk),
		CreatedAt:     now,
		ActivatesAt:   activates,
	}, nil
}

// keyAAD binds a sealed private key to its key ID, so it cannot be swapped
// into another key's row.
func keyAAD(id string) []byte { return []byte("signing-key:" + id) }
