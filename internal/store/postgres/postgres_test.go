package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	pgtest.URL(t) // skip (or fail) once, not in every subtest
	storetest.Run(t, func(t *testing.T) store.Store { return pgtest.New(t) })
}

func TestOpenUnreachable(t *testing.T) {
	start := time.Now()
	db, err := postgres.Open(t.Context(), "postgres://127.0.0.1:1/x?connect_timeout=1")
	if err == nil {
		db.Close()
		t.Fatal("Open of a closed port succeeded")
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("err = %v, want store.ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Open took %v to fail", d)
	}
}

func TestOpenBadURL(t *testing.T) {
	for _, u := range []string{"", "postgres://host:notaport/x", "pool_max_conns=0"} {
		if db, err := postgres.Open(t.Context(), u); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", u)
		} else if errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Open(%q) = %v; a bad URL is not an unavailable database", u, err)
		}
	}
}

// Several nodes migrating an empty database at once all succeed, and the
// schema ends up applied once.
func TestMigrateConcurrentFresh(t *testing.T) {
	u := pgtest.NewURL(t)
	const nodes = 4
	dbs := make([]*postgres.DB, nodes)
	for i := range dbs {
		db, err := postgres.Open(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	ms, err := dbs[0].Migrations(t.Context())
	if err != nil {
		t.Fatalf("Migrations before Migrate: %v", err)
	}
	for _, m := range ms {
		if m.Applied {
			t.Errorf("migration %s applied before Migrate", m.Name)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i, db := range dbs {
		wg.Go(func() { errs[i] = db.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: Migrate: %v", i, err)
		}
	}
	ms, err = dbs[nodes-1].Migrations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if !m.Applied || m.AppliedAt.Location() != time.UTC {
			t.Errorf("migration %+v", m)
		}
	}
}

// Concurrent new defaults of one kind queue; exactly one default remains.
func TestConcurrentDefaultRedirects(t *testing.T) {
	db := pgtest.New(t)
	ctx := t.Context()
	now := store.Now()
	env := &store.Environment{ID: "environment_01", Name: "Dev", Type: store.Development, ClientID: "client_01", CreatedAt: now, UpdatedAt: now}
	if err := db.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, 2*n)
	for i := range n {
		wg.Go(func() {
			errs[i] = db.AddRedirect(ctx, &store.Redirect{ID: "redirect_" + string(rune('A'+i)), EnvironmentID: env.ID,
				Kind: store.RedirectURI, URI: "https://example.com/" + string(rune('a'+i)), Default: true, CreatedAt: now})
		})
	}
	wg.Wait()
	for i := range n {
		wg.Go(func() {
			errs[n+i] = db.SetDefaultRedirect(ctx, env.ID, store.RedirectURI, "https://example.com/"+string(rune('a'+i)))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	rs, err := db.ListRedirects(ctx, env.ID, store.RedirectURI)
	if err != nil {
		t.Fatal(err)
	}
	defaults := 0
	for _, r := range rs {
		if r.Default {
			defaults++
		}
	}
	if len(rs) != n || defaults != 1 {
		t.Errorf("%d redirects, %d defaults; want %d and 1", len(rs), defaults, n)
	}
}

// Concurrent PutSettingIfAbsent calls agree on one value.
func TestPutSettingIfAbsentRace(t *testing.T) {
	db := pgtest.New(t)
	const n = 8
	var wg sync.WaitGroup
	got := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { got[i], errs[i] = db.PutSettingIfAbsent(t.Context(), "check", string(rune('a'+i))) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i] != got[0] {
			t.Errorf("call %d = %q, %v; call 0 = %q", i, got[i], errs[i], got[0])
		}
	}
}

// A cancelled context is reported as such, not as an unavailable database.
func TestCancelledIsNotUnavailable(t *testing.T) {
	db := pgtest.New(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := db.GetSetting(ctx, "k")
	if err == nil || !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("err = %v, want context.Canceled and not ErrUnavailable", err)
	}
	if err := db.Ping(t.Context()); err != nil {
		t.Fatalf("Ping after a cancelled query: %v", err)
	}
}

// go test ./internal/store/postgres -run '^$' -bench Sweep -benchtime 3x
func BenchmarkSweep(b *testing.B) {
	storetest.BenchmarkSweep(b, func(t testing.TB) store.Store { return pgtest.New(t) })
}

// On PostgreSQL a caller that gives up between the read and the write of
// an update writes nothing and is told so (the conformance suite also
// accepts SQLite's finishing the write and reporting success).
func TestUpdateCancelledBeforeWrite(t *testing.T) {
	db := pgtest.New(t)
	ctx := t.Context()
	env, u := newEnvUser(t, db)
	cctx, cancel := context.WithCancel(ctx)
	_, err := db.UpdateUser(cctx, env.ID, u.ID, func(u *store.User) error {
		u.Email = "cancelled@example.com"
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("UpdateUser cancelled before its write = %v, want context.Canceled", err)
	}
	if got, err := db.GetUser(ctx, env.ID, u.ID); err != nil || got.Email != u.Email {
		t.Fatalf("after the cancelled update: %+v, %v; want the email unchanged", got, err)
	}
}
