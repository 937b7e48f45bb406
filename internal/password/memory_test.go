package password

import (
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/password/argon2"
)

// TestMemoryReused checks that the Hasher keeps one argon2 block memory per
// slot for later computations, and lets go of memory that a hash dearer
// than its parameters made it grow.
func TestMemoryReused(t *testing.T) {
	if !argon2.Native() {
		t.Skip("argon2 computes in x/crypto here, which does not use the memory")
	}
	h := NewHasher(testParams, 2)
	pw := "reuse me"
	enc := mustHash(t, h, pw)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if ok, _, err := h.Verify(t.Context(), enc, pw); !ok || err != nil {
				t.Errorf("Verify = %v, %v", ok, err)
			}
		})
	}
	wg.Wait()
	if n := len(h.mems); n < 1 || n > 2 {
		t.Fatalf("%d memories kept for 2 slots", n)
	}
	kept := map[*argon2.Memory]bool{}
	for range len(h.mems) {
		m := <-h.mems
		kept[m] = true
		h.mems <- m
	}

	// A dearer hash (four times the memory) grows the memory it gets; that
	// one is not kept.
	p := testParams
	p.Memory *= 4
	dear := mustHash(t, NewHasher(p, 1), pw)
	before := len(h.mems)
	if ok, _, err := h.Verify(t.Context(), dear, pw); !ok || err != nil {
		t.Fatalf("Verify dearer = %v, %v", ok, err)
	}
	if len(h.mems) != before-1 {
		t.Errorf("memories kept: %d after a dearer hash, %d before", len(h.mems), before)
	}
	for range len(h.mems) {
		m := <-h.mems
		if !kept[m] || m.Size() > testParams.Memory {
			t.Errorf("kept a memory of %d KiB, new or grown", m.Size())
		}
	}
}
