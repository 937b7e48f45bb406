package storecache

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite/sqlitetest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	db := sqlitetest.New(t)
	return db
}

// The wrapper must keep every promise of the store contract: everything
// written through it is read back at once, even with a long TTL.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return New(openSQLite(t), time.Hour) })
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func setup(t *testing.T) (db store.Store, s *Store, c *clock, env *store.Environment, key *store.APIKey) {
	t.Helper()
	db = openSQLite(t)
	c = &clock{t: time.Now()}
	s = newStore(db, 2*time.Second, c.now)
	now := store.Now()
	env = &store.Environment{ID: "environment_1", Name: "One", Type: store.Development, ClientID: "client_1",
		CORSOrigins: []string{"https://a.example"}, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateEnvironment(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	key = &store.APIKey{ID: "key_1", EnvironmentID: env.ID, Name: "k", Prefix: "sk_test_abcd", Hash: []byte("0123456789abcdef0123456789abcdef"), CreatedAt: now}
	if err := db.CreateAPIKey(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	return db, s, c, env, key
}

// A change made behind the cache's back (another node, the admin CLI) is
// seen once the TTL has passed, and not before.
func TestOtherNodesChangesSeenWithinTTL(t *testing.T) {
	db, s, c, env, key := setup(t)
	ctx := t.Context()
	if got, err := s.GetEnvironmentByClientID(ctx, env.ClientID); err != nil || got.Name != "One" {
		t.Fatalf("first read: %+v, %v", got, err)
	}
	if _, err := s.GetAPIKeyByHash(ctx, key.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateEnvironment(ctx, env.ID, func(e *store.Environment) error { e.Name = "Two"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeAPIKey(ctx, env.ID, key.ID, store.Now()); err != nil {
		t.Fatal(err)
	}
	c.add(time.Second)
	if got, _ := s.GetEnvironmentByClientID(ctx, env.ClientID); got.Name != "One" {
		t.Errorf("within the TTL the cached environment should be served, got %q", got.Name)
	}
	if got, _ := s.GetEnvironment(ctx, env.ID); got.Name != "One" {
		t.Errorf("by ID within the TTL: got %q", got.Name)
	}
	if k, _ := s.GetAPIKeyByHash(ctx, key.Hash); k.RevokedAt != nil {
		t.Error("within the TTL the cached key should be served")
	}
	c.add(time.Second + time.Millisecond)
	if got, _ := s.GetEnvironmentByClientID(ctx, env.ClientID); got.Name != "Two" {
		t.Errorf("after the TTL: got %q, want Two", got.Name)
	}
	if k, _ := s.GetAPIKeyByHash(ctx, key.Hash); k.RevokedAt == nil {
		t.Error("after the TTL the revocation must be seen")
	}
}

// Changes made through the cache (the dashboard on this node) apply at once.
func TestOwnChangesApplyAtOnce(t *testing.T) {
	_, s, _, env, key := setup(t)
	ctx := t.Context()
	s.GetEnvironmentByClientID(ctx, env.ClientID)
	s.GetAPIKeyByHash(ctx, key.Hash)
	if _, err := s.UpdateEnvironment(ctx, env.ID, func(e *store.Environment) error { e.SignInEndpoint = "https://app.example/login"; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetEnvironmentByClientID(ctx, env.ClientID); got.SignInEndpoint != "https://app.example/login" {
		t.Errorf("sign-in endpoint after an update through the cache: %q", got.SignInEndpoint)
	}
	if err := s.RevokeAPIKey(ctx, env.ID, key.ID, store.Now()); err != nil {
		t.Fatal(err)
	}
	if k, _ := s.GetAPIKeyByHash(ctx, key.Hash); k.RevokedAt == nil {
		t.Error("a key revoked through the cache must read as revoked at once")
	}
	at := store.Now()
	if err := s.TouchAPIKey(ctx, key.ID, at); err != nil {
		t.Fatal(err)
	}
	if k, _ := s.GetAPIKeyByHash(ctx, key.Hash); k.LastUsedAt == nil || !k.LastUsedAt.Equal(at) {
		t.Errorf("last used after a touch through the cache: %v", k.LastUsedAt)
	}
}

// Misses are not cached: a key or environment created elsewhere works at
// once, and unknown values always reach the database.
func TestMissesNotCached(t *testing.T) {
	db, s, _, env, _ := setup(t)
	ctx := t.Context()
	hash := []byte("fedcba9876543210fedcba9876543210")
	if _, err := s.GetAPIKeyByHash(ctx, hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := s.GetEnvironmentByClientID(ctx, "client_2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown client: %v", err)
	}
	now := store.Now()
	if err := db.CreateAPIKey(ctx, &store.APIKey{ID: "key_2", EnvironmentID: env.ID, Name: "k2", Prefix: "sk_test_efgh", Hash: hash, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateEnvironment(ctx, &store.Environment{ID: "environment_2", Name: "Two", Type: store.Development, ClientID: "client_2", CORSOrigins: []string{}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if k, err := s.GetAPIKeyByHash(ctx, hash); err != nil || k.ID != "key_2" {
		t.Errorf("key created elsewhere: %+v, %v", k, err)
	}
	if e, err := s.GetEnvironmentByClientID(ctx, "client_2"); err != nil || e.ID != "environment_2" {
		t.Errorf("environment created elsewhere: %+v, %v", e, err)
	}
}

// What a caller does to a returned value does not change the cache.
func TestReturnsCopies(t *testing.T) {
	_, s, _, env, key := setup(t)
	ctx := t.Context()
	got, _ := s.GetEnvironmentByClientID(ctx, env.ClientID)
	got.Name = "changed"
	got.CORSOrigins[0] = "https://evil.example"
	k, _ := s.GetAPIKeyByHash(ctx, key.Hash)
	k.EnvironmentID = "environment_other"
	k.Hash[0] = 'X'
	again, _ := s.GetEnvironment(ctx, env.ID)
	if again.Name != "One" || again.CORSOrigins[0] != "https://a.example" {
		t.Errorf("cache changed through a returned value: %+v", again)
	}
	k2, _ := s.GetAPIKeyByHash(ctx, key.Hash)
	if k2.EnvironmentID != env.ID || k2.Hash[0] != '0' {
		t.Errorf("cached key changed through a returned value: %+v", k2)
	}
}

func addRedirect(t *testing.T, st store.Store, env *store.Environment, uri string) {
	t.Helper()
	r := &store.Redirect{ID: "redirect_" + uri, EnvironmentID: env.ID, Kind: store.RedirectURI, URI: uri, CreatedAt: store.Now()}
	if err := st.AddRedirect(t.Context(), r); err != nil {
		t.Fatal(err)
	}
}

func redirectURIs(t *testing.T, st store.Store, env *store.Environment) []string {
	t.Helper()
	rs, err := st.ListRedirects(t.Context(), env.ID, store.RedirectURI)
	if err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, r := range rs {
		uris = append(uris, r.URI)
	}
	return uris
}

// Redirect URIs are cached like environments: a removal on another node
// applies within the TTL, one through this node at once.
func TestRedirectsCached(t *testing.T) {
	db, s, c, env, _ := setup(t)
	ctx := t.Context()
	addRedirect(t, db, env, "https://a.example/cb")
	addRedirect(t, db, env, "https://b.example/cb")
	if got := redirectURIs(t, s, env); len(got) != 2 {
		t.Fatalf("first read: %v", got)
	}
	if err := db.RemoveRedirect(ctx, env.ID, store.RedirectURI, "https://a.example/cb"); err != nil {
		t.Fatal(err)
	}
	c.add(time.Second)
	if got := redirectURIs(t, s, env); len(got) != 2 {
		t.Errorf("within the TTL the cached redirects should be served, got %v", got)
	}
	c.add(time.Second + time.Millisecond)
	if got := redirectURIs(t, s, env); len(got) != 1 || got[0] != "https://b.example/cb" {
		t.Errorf("after the TTL: %v, want only b", got)
	}
	if err := s.RemoveRedirect(ctx, env.ID, store.RedirectURI, "https://b.example/cb"); err != nil {
		t.Fatal(err)
	}
	if got := redirectURIs(t, s, env); len(got) != 0 {
		t.Errorf("after a removal through the cache: %v, want none", got)
	}
	addRedirect(t, s, env, "https://c.example/cb")
	if err := s.SetDefaultRedirect(ctx, env.ID, store.RedirectURI, "https://c.example/cb"); err != nil {
		t.Fatal(err)
	}
	rs, _ := s.ListRedirects(ctx, env.ID, store.RedirectURI)
	if len(rs) != 1 || rs[0].URI != "https://c.example/cb" || !rs[0].Default {
		t.Errorf("after add and set-default through the cache: %+v", rs)
	}
	rs[0].URI = "https://evil.example/cb"
	if got := redirectURIs(t, s, env); got[0] != "https://c.example/cb" {
		t.Errorf("cache changed through a returned value: %v", got)
	}
	if rs, _ := s.ListRedirects(ctx, env.ID, store.SignOutRedirect); len(rs) != 0 {
		t.Errorf("sign-out redirects share the cache entry of redirect URIs: %+v", rs)
	}
}

// racingStore runs during after its inner ListRedirects has read, as a
// change written on this node while a read is in flight would.
type racingStore struct {
	store.Store
	during func()
}

func (r *racingStore) ListRedirects(ctx context.Context, envID string, kind store.RedirectKind) ([]store.Redirect, error) {
	rs, err := r.Store.ListRedirects(ctx, envID, kind)
	if r.during != nil {
		f := r.during
		r.during = nil
		f()
	}
	return rs, err
}

// A read that loaded the old value while a change went through the cache
// does not cache it: the next read sees the change.
func TestReadRacingAChangeNotCached(t *testing.T) {
	db := openSQLite(t)
	now := store.Now()
	env := &store.Environment{ID: "environment_1", Name: "One", Type: store.Development, ClientID: "client_1", CORSOrigins: []string{}, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateEnvironment(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	addRedirect(t, db, env, "https://a.example/cb")
	rs := &racingStore{Store: db}
	s := newStore(rs, time.Hour, time.Now)
	rs.during = func() {
		if err := s.RemoveRedirect(t.Context(), env.ID, store.RedirectURI, "https://a.example/cb"); err != nil {
			t.Error(err)
		}
	}
	if got := redirectURIs(t, s, env); len(got) != 1 {
		t.Fatalf("the racing read returns what it loaded: %v", got)
	}
	if got := redirectURIs(t, s, env); len(got) != 0 {
		t.Errorf("the value loaded before the removal was cached: %v", got)
	}
}
