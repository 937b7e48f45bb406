package password

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/password/argon2"
)

// kept returns the memories h keeps, in the pool's order.
func kept(h *Hasher) []*argon2.Memory {
	h.mems.mu.Lock()
	defer h.mems.mu.Unlock()
	return append([]*argon2.Memory(nil), h.mems.free...)
}

// TestMemoryReused checks that the Hasher keeps one argon2 block memory per
// slot for later computations, cleared once it has nothing to do, and lets
// go of memory that a hash dearer than its parameters made it grow.
func TestMemoryReused(t *testing.T) {
	pw := "reuse me"
	h, enc := memoryHasher(t, 2, pw)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if ok, _, err := h.Verify(t.Context(), enc, pw); !ok || err != nil {
				t.Errorf("Verify = %v, %v", ok, err)
			}
		})
	}
	wg.Wait()
	mems := kept(h)
	if n := len(mems); n < 1 || n > 2 {
		t.Fatalf("%d memories kept for 2 slots", n)
	}
	for _, m := range mems {
		if m.Held() {
			t.Error("a kept memory holds a computation's blocks after the last one ended")
		}
	}

	// A dearer hash (four times the memory) grows the memory it gets; that
	// one is not kept.
	p := defaultTimeParams()
	p.Memory *= 4
	dear := mustHash(t, NewHasher(p, 1), pw)
	if ok, _, err := h.Verify(t.Context(), dear, pw); !ok || err != nil {
		t.Fatalf("Verify dearer = %v, %v", ok, err)
	}
	after := kept(h)
	if len(after) != len(mems)-1 {
		t.Errorf("memories kept: %d after a dearer hash, %d before", len(after), len(mems))
	}
	for _, m := range after {
		if m.Size() > h.params.Memory || (m != mems[0] && m != mems[len(mems)-1]) {
			t.Errorf("kept a memory of %d KiB, new or grown", m.Size())
		}
	}
}

// defaultTimeParams are testParams with two passes, the default, which
// leave their blocks for the next computation (argon2's DeferWipe).
func defaultTimeParams() Params {
	p := testParams
	p.Time = 2
	return p
}

func skipUnlessNative(t *testing.T) {
	t.Helper()
	if !argon2.Native() {
		t.Skip("argon2 computes in x/crypto here, which does not use the memory")
	}
}

// memoryHasher returns a Hasher with defaultTimeParams and slots slots,
// and pw hashed by it.
func memoryHasher(t *testing.T, slots int, pw string) (*Hasher, string) {
	t.Helper()
	skipUnlessNative(t)
	h := NewHasher(defaultTimeParams(), slots)
	return h, mustHash(t, h, pw)
}

// TestMemoryLeftForNext: a computation that ends while another waits for
// its slot leaves its memory, blocks and all, to that one, which gets it
// and computes correctly over it; the last computation clears its memory.
func TestMemoryLeftForNext(t *testing.T) {
	pw := "hand it over"
	h, enc := memoryHasher(t, 1, pw)

	var atExit []bool // the memory's Held as each computation ended
	var mu sync.Mutex
	var current *argon2.Memory
	h.testExit = func() {
		mu.Lock()
		defer mu.Unlock()
		atExit = append(atExit, current.Held())
	}
	first := make(chan *argon2.Memory, 1)
	release := make(chan struct{})
	go func() {
		h.run(t.Context(), 1, func(mem *argon2.Memory) {
			mu.Lock()
			current = mem
			mu.Unlock()
			<-release
			mustVerify(h, mem, enc, pw)
			first <- mem
		})
	}()
	await(t, "the first computation to start", func() bool { return !h.sem.idle() })
	var second *argon2.Memory
	var heldBefore bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.run(t.Context(), 1, func(mem *argon2.Memory) {
			second, heldBefore = mem, mem.Held()
			mu.Lock()
			current = mem
			mu.Unlock()
			if !mustVerify(h, mem, enc, pw) {
				t.Error("Verify over the blocks left by the first computation failed")
			}
		})
	}()
	await(t, "the second computation to queue", h.sem.waiting)
	close(release)
	<-done
	if m := <-first; m != second || !heldBefore {
		t.Errorf("the second computation got the first's memory: %v, holding its blocks: %v", m == second, heldBefore)
	}
	// The last one cleared its blocks itself, on its hashing thread.
	if len(atExit) != 2 || !atExit[0] || atExit[1] {
		t.Errorf("the memory held blocks as the computations ended: %v, want [true false]", atExit)
	}
}

// TestMemPoolHeldFirst: the pool hands out a memory holding blocks before
// a cleared one, so that the blocks are overwritten, and clears one it has
// no room for.
func TestMemPoolHeldFirst(t *testing.T) {
	skipUnlessNative(t)
	p := memPool{max: 3, maxKiB: 64}
	held := &argon2.Memory{DeferWipe: true}
	argon2.Key(held, argon2.ModeID, []byte("pw"), []byte("saltsalt"), 2, 64, 1, 32)
	clean := new(argon2.Memory)
	p.put(clean)
	p.put(held)
	p.put(new(argon2.Memory))
	if got := p.get(); got != held {
		t.Errorf("get returned a memory holding blocks: %v, want one", got.Held())
	}

	// A memory the pool has no room for is cleared as it is let go.
	p.put(held)
	extra := &argon2.Memory{DeferWipe: true}
	argon2.Key(extra, argon2.ModeID, []byte("pw"), []byte("saltsalt"), 2, 64, 1, 32)
	p.put(extra)
	if extra.Held() {
		t.Error("a memory let go by a full pool still holds its blocks")
	}
}

// TestMemoryLeftForNoOne: blocks left for a waiting computation whose
// caller then gives up are cleared when the Hasher has nothing to do.
func TestMemoryLeftForNoOne(t *testing.T) {
	pw := "never mind"
	h, enc := memoryHasher(t, 1, pw)

	ctx, cancel := context.WithCancel(t.Context())
	gaveUp := make(chan error, 1)
	h.testExit = func() { // after the first computation looked for waiters
		cancel()
		if !waitUntil(func() bool { return !h.sem.waiting() }) {
			t.Error("the cancelled computation is still queued after 10 s")
		}
	}
	ran := make(chan struct{})
	go func() {
		<-ran
		gaveUp <- h.run(ctx, 1, func(*argon2.Memory) { t.Error("the cancelled computation ran") })
	}()
	var mem *argon2.Memory
	h.run(t.Context(), 1, func(m *argon2.Memory) {
		mem = m
		close(ran)
		if !waitUntil(h.sem.waiting) {
			t.Error("the second computation did not queue in 10 s")
		}
		mustVerify(h, m, enc, pw)
	})
	if err := <-gaveUp; err == nil {
		t.Fatal("the cancelled computation did not give up")
	}
	if mem.Held() {
		t.Error("the blocks left for a computation that gave up were not cleared")
	}
}

// mustVerify checks pw against enc in mem, as h.Verify's computation does.
func mustVerify(h *Hasher, mem *argon2.Memory, enc, pw string) bool {
	ph, err := parseHash(enc, &h.limits)
	if err != nil {
		panic(err)
	}
	ok, err := ph.verify(mem, []byte(pw))
	return ok && err == nil
}

// waitUntil polls cond every millisecond for up to 10 s and reports
// whether it came true; unlike await it may run off the test's goroutine.
func waitUntil(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !waitUntil(cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}
