package password

import (
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A thread that finishes a computation starts the next waiting one itself:
// a queue of computations runs on one thread that does not sleep between
// them (counted by the kernel as the thread's voluntary context switches).
// Before, each waiting caller was woken to hand its computation to the
// thread, which slept meanwhile: a switch per computation at least.
func TestPoolThreadRunsTheQueueWithoutSleeping(t *testing.T) {
	p := newPool(1)
	first := runAsync(t.Context(), p, 1)
	first.waitStarted(t)
	const n = 8
	type start struct {
		tid      int
		switches int64
	}
	starts := make(chan start, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			panicked, err := p.run(t.Context(), 1, func() {
				var ru unix.Rusage
				if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
					panic(err)
				}
				starts <- start{unix.Gettid(), ru.Nvcsw}
			})
			if panicked != nil {
				t.Errorf("the computation panicked: %v", panicked)
			}
			errs <- err
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		p.mu.Lock()
		queued := p.waiting.Len()
		p.mu.Unlock()
		if queued == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d computations queued", queued, n)
		}
		time.Sleep(time.Millisecond)
	}
	if err := first.end(t); err != nil {
		t.Fatal(err)
	}
	var tids []int
	var switches []int64
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		s := <-starts
		tids, switches = append(tids, s.tid), append(switches, s.switches)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(tids)))) != 1 {
		t.Fatalf("the queue ran on threads %v, want one", tids)
	}
	slept := slices.Max(switches) - slices.Min(switches)
	t.Logf("%d queued computations, %d voluntary context switches of their thread from the first to the last", n, slept)
	if slept >= n/2 {
		t.Errorf("the hashing thread slept %d times between %d queued computations; want (nearly) none", slept, n)
	}
	checkEmpty(t, p)
}
