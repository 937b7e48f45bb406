package password

import (
	"context"
	"errors"
	"testing"
	"time"
)

// acquireAsync starts acquire(n) and returns a channel with its result.
func acquireAsync(ctx context.Context, s *semaphore, n int64) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- s.acquire(ctx, n) }()
	return ch
}

func waitFor(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("acquire did not return")
		return nil
	}
}

func pending(ch <-chan error) bool {
	select {
	case <-ch:
		return false
	case <-time.After(20 * time.Millisecond):
		return true
	}
}

func TestSemaphoreWeighted(t *testing.T) {
	s := newSemaphore(3)
	ctx := t.Context()
	if err := s.acquire(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.acquire(ctx, 1); err != nil {
		t.Fatal(err)
	}
	heavy := acquireAsync(ctx, s, 3)
	if !pending(heavy) {
		t.Fatal("acquire(3) did not wait with the semaphore full")
	}
	// FIFO: a light request behind the heavy one waits too, even once a
	// slot is free.
	light := acquireAsync(ctx, s, 1)
	s.release(1)
	if !pending(light) {
		t.Fatal("acquire(1) overtook a queued acquire(3)")
	}
	s.release(2)
	if err := waitFor(t, heavy); err != nil {
		t.Fatal(err)
	}
	if !pending(light) {
		t.Fatal("acquire(1) succeeded while acquire(3) holds everything")
	}
	s.release(3)
	if err := waitFor(t, light); err != nil {
		t.Fatal(err)
	}
	s.release(1)
	if s.used != 0 || s.waiters.Len() != 0 {
		t.Errorf("used = %d, waiters = %d; want 0, 0", s.used, s.waiters.Len())
	}
}

func TestSemaphoreCancel(t *testing.T) {
	s := newSemaphore(2)
	if err := s.acquire(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	heavy := acquireAsync(ctx, s, 2)
	light := acquireAsync(t.Context(), s, 1)
	if !pending(heavy) || !pending(light) {
		t.Fatal("acquire did not wait with the semaphore full")
	}
	s.release(1)
	// Cancelling the head of the queue lets the light waiter through.
	cancel()
	if err := waitFor(t, heavy); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled acquire: err = %v, want context.Canceled", err)
	}
	if err := waitFor(t, light); err != nil {
		t.Errorf("acquire behind a cancelled waiter: %v", err)
	}
	s.release(1)
	s.release(1)
	if s.used != 0 || s.waiters.Len() != 0 {
		t.Errorf("used = %d, waiters = %d; want 0, 0", s.used, s.waiters.Len())
	}

	// An already-cancelled context fails even when slots are free.
	if err := s.acquire(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("acquire with cancelled context: err = %v, want context.Canceled", err)
	}
	if s.used != 0 {
		t.Errorf("used = %d after failed acquire, want 0", s.used)
	}
}

// TestSemaphoreWaitingAndIdle: waiting counts queued callers, whether they
// are then granted slots or give up; idle is no slot taken and no one
// queued.
func TestSemaphoreWaitingAndIdle(t *testing.T) {
	s := newSemaphore(1)
	if !s.idle() || s.waiting() {
		t.Fatalf("new: idle %v, waiting %v", s.idle(), s.waiting())
	}
	if err := s.acquire(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	gaveUp := acquireAsync(ctx, s, 1)
	granted := acquireAsync(t.Context(), s, 1)
	if !pending(gaveUp) || !pending(granted) || !s.waiting() || s.idle() {
		t.Fatalf("two queued: waiting %v, idle %v", s.waiting(), s.idle())
	}
	cancel()
	if err := waitFor(t, gaveUp); err == nil {
		t.Fatal("the cancelled acquire got the slot")
	}
	if !s.waiting() {
		t.Fatal("one still queued: waiting false")
	}
	s.release(1)
	if err := waitFor(t, granted); err != nil {
		t.Fatal(err)
	}
	if s.waiting() || s.idle() {
		t.Fatalf("granted: waiting %v, idle %v", s.waiting(), s.idle())
	}
	s.release(1)
	if !s.idle() {
		t.Fatal("released: not idle")
	}
}
