package password

import (
	"container/list"
	"context"
	"sync"
	"sync/atomic"
)

// semaphore is a weighted counting semaphore whose waiters are served in
// arrival order, so a heavy request is not starved by a stream of light
// ones, and which a waiter can abandon when its context ends.
type semaphore struct {
	mu      sync.Mutex
	size    int64
	used    int64
	waiters list.List // of *semWaiter
	// queued is waiters.Len(), for waiting, which the hashing threads
	// call: a thread at a low priority that held mu could keep every
	// acquire and release waiting while it waits for a CPU.
	queued atomic.Int64
}

type semWaiter struct {
	n     int64
	ready chan struct{} // closed when the slots are granted
}

func newSemaphore(size int64) *semaphore {
	return &semaphore{size: size}
}

// acquire takes n slots, waiting until they are free or ctx ends; in the
// latter case it returns ctx.Err() and holds nothing. n must be in
// 1..size.
func (s *semaphore) acquire(ctx context.Context, n int64) error {
	if n < 1 || n > s.size {
		panic("password: semaphore weight out of range")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.waiters.Len() == 0 && s.size-s.used >= n {
		s.used += n
		s.mu.Unlock()
		return nil
	}
	w := &semWaiter{n: n, ready: make(chan struct{})}
	elem := s.waiters.PushBack(w)
	s.queued.Add(1)
	s.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		select {
		case <-w.ready:
			// Granted just as ctx ended: give the slots back.
			s.used -= n
		default:
			s.waiters.Remove(elem)
			s.queued.Add(-1)
		}
		// Whoever queued behind us may fit now.
		s.grant()
		s.mu.Unlock()
		return ctx.Err()
	}
}

// release returns n slots taken by acquire.
func (s *semaphore) release(n int64) {
	s.mu.Lock()
	s.used -= n
	if s.used < 0 {
		s.mu.Unlock()
		panic("password: semaphore released more than acquired")
	}
	s.grant()
	s.mu.Unlock()
}

// grant hands free slots to waiters in order, stopping at the first that
// does not fit. s.mu must be held.
func (s *semaphore) grant() {
	for e := s.waiters.Front(); e != nil; e = s.waiters.Front() {
		w := e.Value.(*semWaiter)
		if s.size-s.used < w.n {
			return
		}
		s.used += w.n
		s.waiters.Remove(e)
		s.queued.Add(-1)
		close(w.ready)
	}
}

// waiting reports whether anyone waits for slots, without taking s.mu.
func (s *semaphore) waiting() bool { return s.queued.Load() > 0 }

// idle reports whether no slot is taken and no one waits for one.
func (s *semaphore) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used == 0 && s.waiters.Len() == 0
}
