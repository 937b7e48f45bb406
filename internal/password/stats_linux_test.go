package password

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// processCPU is the CPU time the test process has used.
func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Stats counts every computation, and its CPU time is the hashing threads':
// most of what the process used meanwhile, never more, and never more than
// the time that passed.
func TestStats(t *testing.T) {
	ctx := t.Context()
	h := NewHasher(DefaultParams, 1)
	n0, cpu0 := h.Stats()
	proc0 := processCPU(t)
	start := time.Now()
	hash, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(ctx, hash, "correct horse battery"); !ok || err != nil {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	if ok, _, _ := h.Verify(ctx, hash, "wrong"); ok {
		t.Fatal("Verify accepted a wrong password")
	}
	h.DummyVerify(ctx, "anything")
	wall := time.Since(start)
	proc := processCPU(t) - proc0
	n, cpu := h.Stats()
	if n-n0 != 4 {
		t.Errorf("Stats counted %d computations for a hash, two checks and a dummy check; want 4", n-n0)
	}
	cpu -= cpu0
	t.Logf("hashing threads %v, process %v, wall %v", cpu, proc, wall)
	if cpu <= 0 || cpu > wall || cpu > proc+5*time.Millisecond {
		t.Errorf("hashing CPU %v; want more than 0 and at most the wall time %v and the process's CPU %v", cpu, wall, proc)
	}
	if cpu < proc/2 {
		t.Errorf("hashing CPU %v is less than half the process's %v over four argon2id computations", cpu, proc)
	}
}
