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

// Store is a store.Store whose environment, API-key and redirect reads are
// cached.
type Store struct {
	store.Store
	ttl time.Duration
	now func() time.Time

	mu          sync.Mutex
	gen         uint64 // bumped by every forget, so a load that raced it is not cached
	envByID     map[string]entry[store.Environment]
	envByClient map[string]entry[store.Environment]
	keyByHash   map[string]entry[store.APIKey]
	redirects   map[string]entry[[]store.Redirect] // by environment ID and kind
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
		redirects:   map[string]entry[[]store.Redirect]{},
	}
}

// Unwrap returns the store s caches, for what only it offers (SQLite's
// commit counters, say).
func (s *Store) Unwrap() store.Store { return s.Store }

// lookup returns a live entry of m, or the generation to pass to put
// after loading the value.
func lookup[T any](s *Store, m map[string]entry[T], k string) (v T, gen uint64, ok bool) {
	s.mu.Lock()
	e, ok := m[k]
	gen = s.gen
	s.mu.Unlock()
	if !ok || !s.now().Before(e.expires) {
		var zero T
		return zero, gen, false
	}
	return e.v, gen, true
}

// put caches v, unless something was forgotten since the lookup at gen:
// the value may have been loaded before that change was written.
func put[T any](s *Store, m map[string]entry[T], gen uint64, k string, v T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return
	}
	if len(m) >= maxEntries {
		clear(m)
	}
	m[k] = entry[T]{v: v, expires: s.now().Add(s.ttl)}
}

// forget empties maps after a change written through this store.
func (s *Store) forget(clears ...func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	for _, f := range clears {
		f()
	}
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
	env, gen, ok := lookup(s, m, key)
	if ok {
		return copyEnv(env), nil
	}
	loaded, err := load(ctx, key)
	if err != nil {
		return nil, err
	}
	v := *copyEnv(*loaded)
	put(s, s.envByID, gen, v.ID, v)
	put(s, s.envByClient, gen, v.ClientID, v)
	return copyEnv(v), nil
}

// UpdateEnvironment updates through the wrapped store and forgets every
// cached environment.
func (s *Store) UpdateEnvironment(ctx context.Context, id string, fn func(*store.Environment) error) (*store.Environment, error) {
	defer s.forgetEnvironments()
	return s.Store.UpdateEnvironment(ctx, id, fn)
}

func (s *Store) forgetEnvironments() {
	s.forget(func() { clear(s.envByID) }, func() { clear(s.envByClient) })
}

// GetAPIKeyByHash returns the key whose secret hashes to hash.
func (s *Store) GetAPIKeyByHash(ctx context.Context, hash []byte) (*store.APIKey, error) {
	k, gen, ok := lookup(s, s.keyByHash, string(hash))
	if ok {
		return copyKey(k), nil
	}
	loaded, err := s.Store.GetAPIKeyByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	put(s, s.keyByHash, gen, string(hash), *copyKey(*loaded))
	return loaded, nil
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
	s.forget(func() { clear(s.keyByHash) })
}

// ListRedirects returns an environment's redirects of one kind. Every
// authorize and logout checks them.
func (s *Store) ListRedirects(ctx context.Context, envID string, kind store.RedirectKind) ([]store.Redirect, error) {
	key := envID + "\x00" + string(kind)
	rs, gen, ok := lookup(s, s.redirects, key)
	if ok {
		return slices.Clone(rs), nil
	}
	loaded, err := s.Store.ListRedirects(ctx, envID, kind)
	if err != nil {
		return nil, err
	}
	put(s, s.redirects, gen, key, slices.Clone(loaded))
	return loaded, nil
}

// AddRedirect adds through the wrapped store and forgets cached redirects.
func (s *Store) AddRedirect(ctx context.Context, r *store.Redirect) error {
	defer s.forgetRedirects()
	return s.Store.AddRedirect(ctx, r)
}

// RemoveRedirect removes through the wrapped store and forgets cached
// redirects.
func (s *Store) RemoveRedirect(ctx context.Context, envID string, kind store.RedirectKind, uri string) error {
	defer s.forgetRedirects()
	return s.Store.RemoveRedirect(ctx, envID, kind, uri)
}

// SetDefaultRedirect changes the default through the wrapped store and
// forgets cached redirects.
func (s *Store) SetDefaultRedirect(ctx context.Context, envID string, kind store.RedirectKind, uri string) error {
	defer s.forgetRedirects()
	return s.Store.SetDefaultRedirect(ctx, envID, kind, uri)
}

func (s *Store) forgetRedirects() {
	s.forget(func() { clear(s.redirects) })
}
