package throttle

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

func TestDelay(t *testing.T) {
	for _, c := range []struct {
		n, free int
		want    time.Duration
	}{
		{0, 5, 0}, {4, 5, 0}, {5, 5, time.Second}, {6, 5, 2 * time.Second}, {9, 5, 16 * time.Second},
		{15, 5, MaxDelay}, {1000, 5, MaxDelay}, {0, 0, time.Second},
	} {
		if got := Delay(c.n, c.free); got != c.want {
			t.Errorf("Delay(%d, %d) = %s, want %s", c.n, c.free, got, c.want)
		}
	}
}

func TestCheck(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := store.Now()
	if recorded, err := Check(ctx, db, "k", 2, now); err != nil || recorded {
		t.Fatalf("a key never seen: %v, recorded %v", err, recorded)
	}
	for range 3 {
		if _, err := db.RecordFailure(ctx, "k", now, Window); err != nil {
			t.Fatal(err)
		}
	}
	// Three failures, two free: the next attempt waits 2 s after the last.
	_, err = Check(ctx, db, "k", 2, now.Add(500*time.Millisecond))
	var e *errs.Error
	if !errors.As(err, &e) || e.Kind != errs.RateLimited || e.RetryAfter != 1500*time.Millisecond {
		t.Fatalf("within the delay: %v (kind %v, retry after %s), want RateLimited with 1.5s to wait", err, e.Kind, e.RetryAfter)
	}
	if recorded, err := Check(ctx, db, "k", 2, now.Add(2*time.Second)); err != nil || !recorded {
		t.Errorf("after the delay: %v, recorded %v", err, recorded)
	}
	if _, err := Check(ctx, db, "k", 3, now); err == nil {
		t.Error("3 failures with 3 free must wait a second")
	}
	// Stale failures do not limit, but are still on record to clear.
	if recorded, err := Check(ctx, db, "k", 2, now.Add(Window+time.Second)); err != nil || !recorded {
		t.Errorf("after the window: %v, recorded %v", err, recorded)
	}
}
