package storecache

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// maxEntries bounds each map; a full map is emptied rather than managed,
// since a deployment has a handful of environments and keys.
const maxEntries = 10_000

// Store is a store.Store whose environment and API-key reads are cached.
type Store struct {
	store.Store
	ttl time.Duration
	now func() time.Time

	mu          sync.Mutex
	envByID     map[string]entry[store.Environment]
	envByClient map[string]entry[store.Environment]
	keyByHash   map[string]entry[store.APIKey]
}

type entry[T any] struct {
	v       T
	expires time.Time
}

// New wraps st. A ttl of zero or less returns st itself.
func New(st store.Store, ttl time.Duration) store.Store {
	if ttl <= 0 {
		return st
	}
	return newStore(st, ttl, time.Now)
}

func newStore(st store.Store, ttl time.Duration, now func() time.Time) *Store {
	return &Store{
		Store: st, ttl: ttl, now: now,
		envByID:     map[string]entry[store.Environment]{},
		envByClient: map[string]entry[store.Environment]{},
		keyByHash:   map[string]entry[store.APIKey]{},
	}
}

// lookup returns a copy of a live entry of m.
func lookup[T any](s *Store, m map[string]entry[T], k string) (T, bool) {
	s.mu.Lock()
	e, ok := m[k]
	s.mu.Unlock()
	if !ok || !s.now().Before(e.expires) {
		var zero T
		return zero, false
	}
	return e.v, true
}

func put[T any](s *Store, m map[string]entry[T], k string, v T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(m) >= maxEntries {
		clear(m)
	}
	m[k] = entry[T]{v: v, expires: s.now().Add(s.ttl)}
}

// copyEnv returns env with its own slice, so callers cannot change what
// the cache holds.
func copyEnv(env store.Environment) *store.Environment {
	env.CORSOrigins = slices.Clone(env.CORSOrigins)
	return &env
}

func copyKey(k store.APIKey) *store.APIKey {
	k.Hash = slices.Clone(k.Hash)
	return &k
}

// GetEnvironment returns the environment with the given ID.
func (s *Store) GetEnvironment(ctx context.Context, id string) (*store.Environment, error) {
	return s.environment(ctx, s.envByID, id, s.Store.GetEnvironment)
}

// GetEnvironmentByClientID returns the environment owning a client ID.
func (s *Store) GetEnvironmentByClientID(ctx context.Context, clientID string) (*store.Environment, error) {
	return s.environment(ctx, s.envByClient, clientID, s.Store.GetEnvironmentByClientID)
}

// environment serves key from m, or loads it and caches it under both keys.
func (s *Store) environment(ctx context.Context, m map[string]entry[store.Environment], key string,
	load func(context.Context, string) (*store.Environment, error)) (*store.Environment, error) {
	if env, ok := lookup(s, m, key); ok {
		return copyEnv(env), nil
	}
	env, err := load(ctx, key)
	if err != nil {
		return nil, err
	}
	s.putEnv(env)
	return copyEnv(*env), nil
}

func (s *Store) putEnv(env *store.Environment) {
	v := *copyEnv(*env)
	put(s, s.envByID, env.ID, v)
	put(s, s.envByClient, env.ClientID, v)
}

// UpdateEnvironment updates through the wrapped store and forgets every
// cached environment.
func (s *Store) UpdateEnvironment(ctx context.Context, id string, fn func(*store.Environment) error) (*store.Environment, error) {
	defer s.forgetEnvironments()
	return s.Store.UpdateEnvironment(ctx, id, fn)
}

func (s *Store) forgetEnvironments() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.envByID)
	clear(s.envByClient)
}

// GetAPIKeyByHash returns the key whose secret hashes to hash.
func (s *Store) GetAPIKeyByHash(ctx context.Context, hash []byte) (*store.APIKey, error) {
	if k, ok := lookup(s, s.keyByHash, string(hash)); ok {
		return copyKey(k), nil
	}
	k, err := s.Store.GetAPIKeyByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	put(s, s.keyByHash, string(hash), *copyKey(*k))
	return k, nil
}

// RevokeAPIKey revokes through the wrapped store and forgets every cached key.
func (s *Store) RevokeAPIKey(ctx context.Context, envID, id string, at time.Time) error {
	defer s.forgetKeys()
	return s.Store.RevokeAPIKey(ctx, envID, id, at)
}

// TouchAPIKey records the use and forgets cached keys, so the next read
// sees the new last-used time (which is written at most once a minute).
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	defer s.forgetKeys()
	return s.Store.TouchAPIKey(ctx, id, at)
}

func (s *Store) forgetKeys() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.keyByHash)
}
