package storetest

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// An Idempotency-Key is claimed once; later claims see the record that
// stands (pending, then completed with its response), until it expires or
// a pending claim is abandoned; completing or releasing needs the claim
// that stands.
func testIdempotency(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := store.Now()
	rec := func(key, req string, at time.Time) *store.IdempotencyRecord {
		return &store.IdempotencyRecord{Key: []byte(key), RequestHash: []byte(req), CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute)}
	}
	claim := func(r *store.IdempotencyRecord, staleBefore time.Time) (bool, *store.IdempotencyRecord) {
		t.Helper()
		claimed, existing, err := s.ClaimIdempotencyKey(ctx, r, staleBefore)
		if err != nil {
			t.Fatal(err)
		}
		if claimed == (existing != nil) {
			t.Fatalf("claimed %v with existing %+v", claimed, existing)
		}
		return claimed, existing
	}
	stale := now.Add(-2 * time.Minute)

	first := rec("key-1", "request-a", now)
	if ok, _ := claim(first, stale); !ok {
		t.Fatal("a new key was not claimed")
	}
	// A retry while the first runs sees it pending, whatever its request.
	ok, got := claim(rec("key-1", "request-b", now.Add(time.Second)), stale)
	if ok || got.Status != 0 || !bytes.Equal(got.RequestHash, []byte("request-a")) || !got.CreatedAt.Equal(store.Truncate(now)) {
		t.Fatalf("second claim: %v %+v; want the first, pending", ok, got)
	}
	wantErr(t, s.CompleteIdempotencyKey(ctx, first.Key, now.Add(time.Millisecond), 200, "sealed"), store.ErrNotFound, "complete another claim")
	if err := s.CompleteIdempotencyKey(ctx, first.Key, first.CreatedAt, 200, "sealed response"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.CompleteIdempotencyKey(ctx, first.Key, first.CreatedAt, 201, "again"), store.ErrNotFound, "complete twice")
	wantErr(t, s.ReleaseIdempotencyKey(ctx, first.Key, first.CreatedAt), store.ErrNotFound, "release a completed key")
	// A completed record stands even long after it was made, until it expires.
	ok, got = claim(rec("key-1", "request-a", now.Add(5*time.Minute)), now.Add(5*time.Minute))
	if ok || got.Status != 200 || got.Response != "sealed response" || !got.ExpiresAt.Equal(store.Truncate(now.Add(10*time.Minute))) {
		t.Fatalf("claim of a completed key: %v %+v", ok, got)
	}
	// Once expired, the key is new again.
	if ok, _ := claim(rec("key-1", "request-c", now.Add(10*time.Minute)), stale); !ok {
		t.Fatal("an expired key was not claimed again")
	}

	// A released key is new again.
	second := rec("key-2", "request-a", now)
	claim(second, stale)
	if err := s.ReleaseIdempotencyKey(ctx, second.Key, second.CreatedAt); err != nil {
		t.Fatal(err)
	}
	if ok, _ := claim(rec("key-2", "request-a", now.Add(time.Second)), stale); !ok {
		t.Fatal("a released key was not claimed again")
	}

	// A pending claim older than staleBefore is abandoned: the next claim
	// takes it over, and the abandoned one can no longer complete.
	old := rec("key-3", "request-a", now.Add(-3*time.Minute))
	claim(old, stale)
	takeover := rec("key-3", "request-a", now)
	if ok, _ := claim(takeover, stale); !ok {
		t.Fatal("an abandoned claim was not taken over")
	}
	wantErr(t, s.CompleteIdempotencyKey(ctx, old.Key, old.CreatedAt, 200, "late"), store.ErrNotFound, "complete an abandoned claim")
	if err := s.CompleteIdempotencyKey(ctx, takeover.Key, takeover.CreatedAt, 400, "refused"); err != nil {
		t.Fatal(err)
	}

	// Concurrent claims of one new key: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			claimed, _, err := s.ClaimIdempotencyKey(ctx, rec("key-race", "request-a", now), stale)
			if err != nil {
				t.Error(err)
			}
			if claimed {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d of 8 concurrent claims won, want 1", wins.Load())
	}

	// The sweeper deletes expired records only.
	n, err := s.Sweep(ctx, store.SweepCutoffs{Now: now.Add(11 * time.Minute), Before: now.Add(-time.Hour)}, 100)
	if err != nil {
		t.Fatal(err)
	}
	// key-1 (claimed again at +10 min) stands; key-2, key-3 and key-race
	// expired at +10 min.
	if n.IdempotencyKeys != 3 {
		t.Errorf("swept %d idempotency records, want 3", n.IdempotencyKeys)
	}
	if ok, got := claim(rec("key-1", "request-x", now.Add(11*time.Minute)), stale); ok || !bytes.Equal(got.RequestHash, []byte("request-c")) {
		t.Errorf("after the sweep, key-1: %v %+v; want its record of request-c", ok, got)
	}
}
