package storecache

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
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
