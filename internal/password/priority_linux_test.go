package password

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The main goroutine keeps the main thread. A computation's thread ends
// with it, except the main thread, which the runtime parks for good
// instead; keeping computations off it lets the test see every hashing
// thread end.
func init() { runtime.LockOSThread() }

// startNice is the process's nice value, read before any test runs (a
// thread left lowered by a test would otherwise be taken for the
// process's).
var startNice = func() int {
	n, err := threadNice(0)
	if err != nil {
		panic(err)
	}
	return n
}()

// threadNice is the nice value of thread tid of this process (0: the
// calling thread). getpriority(2) answers 20 - nice.
func threadNice(tid int) (int, error) {
	raw, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	return 20 - raw, err
}

// Hashes are computed on a thread of lowered priority, which is kept for
// the next ones and ends when idle; no other thread of the process is
// lowered.
func TestHashOnLowPriorityThread(t *testing.T) {
	base := startNice
	if base+hashNice > 19 {
		t.Skipf("the test runs at nice %d: no room to lower a thread by %d", base, hashNice)
	}
	waitLoweredThreadsGone(t, base) // those of earlier tests
	h := NewHasher(testParams, 1)
	var tids []int
	h.testEnter = func() { // on the hashing thread: no t.Fatal here
		tid := unix.Gettid()
		tids = append(tids, tid)
		if n, err := threadNice(tid); err != nil || n != base+hashNice {
			t.Errorf("hashing thread at nice %d (%v), want %d (the process's %d + %d)", n, err, base+hashNice, base, hashNice)
		}
	}
	for range 3 {
		mustHash(t, h, "a password")
		if got, err := threadNice(0); err != nil || got != base {
			t.Errorf("the test's thread at nice %d (%v) after a hash, want %d", got, err, base)
		}
	}
	if tids[1] != tids[0] || tids[2] != tids[0] {
		t.Errorf("one hash after another ran on threads %v, want one thread kept", tids)
	}
	// Idle, the thread ends rather than run other goroutines at its
	// lowered priority.
	waitLoweredThreadsGone(t, base)
}

// waitLoweredThreadsGone waits until no thread of the process has a nice
// value other than base, failing the test after 5s.
func waitLoweredThreadsGone(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		var lowered []string
		for _, task := range tasks {
			tid, _ := strconv.Atoi(task.Name())
			if n, err := threadNice(tid); err == nil && n != base { // err: the thread just ended
				lowered = append(lowered, fmt.Sprintf("%d at nice %d", tid, n))
			}
		}
		if len(lowered) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("threads still lowered 5s after their last hash: %v (the process is at nice %d)", lowered, base)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Hashes computed at once get a thread each.
func TestHashThreadsAtOnce(t *testing.T) {
	h := NewHasher(testParams, 3)
	var mu sync.Mutex
	tids := map[int]bool{}
	var arrived sync.WaitGroup
	arrived.Add(3)
	h.testEnter = func() {
		mu.Lock()
		tids[unix.Gettid()] = true
		mu.Unlock()
		arrived.Done()
		arrived.Wait() // all three computing at once
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { mustHash(t, h, "a password") })
	}
	wg.Wait()
	if len(tids) != 3 {
		t.Errorf("three hashes at once ran on %d threads, want 3", len(tids))
	}
}
