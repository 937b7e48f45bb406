package argon2

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	xargon2 "golang.org/x/crypto/argon2"
)

// TestRFC9106Vectors checks the Argon2i and Argon2id test vectors of
// RFC 9106, 5.2 and 5.3, which use a secret and associated data.
func TestRFC9106Vectors(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2: Key uses x/crypto, which has no secret or associated data")
	}
	password := bytes.Repeat([]byte{1}, 32)
	salt := bytes.Repeat([]byte{2}, 16)
	secret := bytes.Repeat([]byte{3}, 8)
	data := bytes.Repeat([]byte{4}, 12)
	for _, tc := range []struct {
		mode Mode
		want string
	}{
		{ModeI, "c814d9d1dc7f37aa13f0d77f2494bda1c8de6b016dd388d29952a4c4672b6ce8"},
		{ModeID, "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"},
	} {
		var mem Memory
		got := hex.EncodeToString(mem.key(tc.mode, password, salt, secret, data, 3, 32, 4, 32))
		if got != tc.want {
			t.Errorf("mode %d: tag %s, want %s", tc.mode, got, tc.want)
		}
	}
}

// TestMatchesXCrypto compares Key with x/crypto over random parameters:
// lanes 1–4, memory that is and is not a multiple of 4p (up to several
// address blocks per segment), 1–3 passes, tags of 4–300 bytes (one or
// several blake2b hashes), and one Memory reused across sizes, mostly
// with the blocks of the computation before left in it (DeferWipe).
func TestMatchesXCrypto(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	var mem Memory
	n := 120
	if testing.Short() {
		n = 30
	}
	for i := range n {
		mem.DeferWipe = i%3 != 0
		password := randomBytes(r, r.IntN(48))
		salt := randomBytes(r, 8+r.IntN(24))
		threads := uint8(1 + r.IntN(4))
		memory := uint32(8*int(threads) + r.IntN(1200))
		if i%10 == 0 {
			memory += 4096 // segments of over 1,024 blocks: yields and many address blocks
		}
		time := uint32(1 + r.IntN(3))
		keyLen := uint32(4 + r.IntN(300))
		for _, mode := range []Mode{ModeID, ModeI} {
			got := Key(&mem, mode, password, salt, time, memory, threads, keyLen)
			want := xargon2.IDKey(password, salt, time, memory, threads, keyLen)
			if mode == ModeI {
				want = xargon2.Key(password, salt, time, memory, threads, keyLen)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("case %d, mode %d, t=%d m=%d p=%d keyLen=%d: %x, x/crypto %x",
					i, mode, time, memory, threads, keyLen, got, want)
			}
		}
	}
}

func TestMemory(t *testing.T) {
	var mem Memory
	a := Key(&mem, ModeID, []byte("pw"), []byte("saltsalt"), 1, 64, 1, 32)
	if mem.Size() != 64 && useAVX2 {
		t.Errorf("Size after m=64: %d", mem.Size())
	}
	Key(&mem, ModeID, []byte("pw"), []byte("saltsalt"), 1, 256, 2, 32)
	// A smaller computation in the grown memory gives the same key.
	if b := Key(&mem, ModeID, []byte("pw"), []byte("saltsalt"), 1, 64, 1, 32); !bytes.Equal(a, b) {
		t.Errorf("key changed after the memory grew: %x, then %x", a, b)
	}
	if b := Key(nil, ModeID, []byte("pw"), []byte("saltsalt"), 1, 64, 1, 32); !bytes.Equal(a, b) {
		t.Errorf("key with a nil Memory: %x, want %x", b, a)
	}
	for i, b := range mem.blocks {
		if b != (block{}) {
			t.Fatalf("block %d not cleared after Key", i)
		}
	}
}

// TestDeferWipe: with DeferWipe, a computation of two or more passes leaves
// its blocks, a smaller one after it clears the blocks it does not use, a
// one-pass computation and a growing memory clear everything, and Wipe
// clears what is left.
func TestDeferWipe(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2: Key uses x/crypto, which does not use the memory")
	}
	mem := Memory{DeferWipe: true}
	pw, salt := []byte("pw"), []byte("saltsalt")
	nonZero := func(from, to int) int {
		n := 0
		for _, b := range mem.blocks[from:to] {
			if b != (block{}) {
				n++
			}
		}
		return n
	}

	Key(&mem, ModeID, pw, salt, 2, 256, 1, 32)
	if !mem.Held() || nonZero(0, 256) != 256 {
		t.Fatalf("after t=2 m=256: Held %v, %d blocks of 256 not zero, want all", mem.Held(), nonZero(0, 256))
	}
	got := Key(&mem, ModeID, pw, salt, 2, 64, 1, 32)
	if want := xargon2.IDKey(pw, salt, 2, 64, 1, 32); !bytes.Equal(got, want) {
		t.Fatalf("t=2 m=64 over the blocks of m=256: %x, want %x", got, want)
	}
	if n := nonZero(64, 256); n != 0 || nonZero(0, 64) != 64 {
		t.Fatalf("after t=2 m=64: %d blocks past 64 not zero, %d of the first 64", n, nonZero(0, 64))
	}
	if !mem.Held() {
		t.Fatal("after t=2 m=64: not Held")
	}

	Key(&mem, ModeID, pw, salt, 1, 64, 1, 32)
	if mem.Held() || nonZero(0, 256) != 0 {
		t.Fatalf("after t=1: Held %v, %d blocks not zero", mem.Held(), nonZero(0, 256))
	}

	Key(&mem, ModeI, pw, salt, 3, 128, 2, 32)
	old := mem.blocks
	Key(&mem, ModeID, pw, salt, 2, 512, 1, 32)
	for i, b := range old {
		if b != (block{}) {
			t.Fatalf("block %d of the memory let go for a bigger one not cleared", i)
		}
	}
	mem.Wipe()
	if mem.Held() || nonZero(0, len(mem.blocks)) != 0 {
		t.Fatalf("after Wipe: Held %v, %d blocks not zero", mem.Held(), nonZero(0, len(mem.blocks)))
	}
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// The benchmarks compare one hash at the default parameters
// (m=19456 KiB, t=2, p=1), here and in x/crypto.
func BenchmarkKey(b *testing.B) {
	var mem Memory
	for b.Loop() {
		Key(&mem, ModeID, []byte("correct horse"), []byte("0123456789abcdef"), 2, 19456, 1, 32)
	}
}

func BenchmarkXCrypto(b *testing.B) {
	for b.Loop() {
		xargon2.IDKey([]byte("correct horse"), []byte("0123456789abcdef"), 2, 19456, 1, 32)
	}
}

// FuzzKeyMatchesXCrypto compares Key with x/crypto on fuzzed inputs and
// small parameters (1–4 lanes, up to 512 KiB, 1–3 passes, 4–131-byte
// tags), in both modes, with one Memory reused throughout.
func FuzzKeyMatchesXCrypto(f *testing.F) {
	f.Add([]byte("password"), []byte("somesalt"), uint8(0), uint16(64), uint8(0), uint8(28), false)
	f.Add([]byte{}, []byte("saltsaltsaltsalt"), uint8(2), uint16(500), uint8(3), uint8(127), true)
	f.Add([]byte("\x00\xff"), []byte{}, uint8(1), uint16(0), uint8(1), uint8(0), false)
	var mem Memory
	f.Fuzz(func(t *testing.T, password, salt []byte, time uint8, memory uint16, threads uint8, keyLen uint8, argon2i bool) {
		tm := uint32(time%3) + 1
		p := threads%4 + 1
		m := uint32(memory) % 513
		kl := uint32(keyLen)%128 + 4
		mode, want := ModeID, xargon2.IDKey(password, salt, tm, m, p, kl)
		if argon2i {
			mode, want = ModeI, xargon2.Key(password, salt, tm, m, p, kl)
		}
		if got := Key(&mem, mode, password, salt, tm, m, p, kl); !bytes.Equal(got, want) {
			t.Fatalf("mode %d, t=%d m=%d p=%d keyLen=%d: %x, x/crypto %x", mode, tm, m, p, kl, got, want)
		}
	})
}

// othersWaiting sees a goroutine that is ready to run: with one processor,
// a goroutine just started waits for it until this one blocks.
func TestOthersWaiting(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	sample := []metrics.Sample{{Name: runnableMetric}}
	ran := make(chan struct{})
	go close(ran)
	if !othersWaiting(sample) {
		t.Fatal("othersWaiting = false with a goroutine ready to run")
	}
	<-ran
	// Now nothing of ours waits; the runtime's own goroutines may, for a
	// moment.
	for i := 0; othersWaiting(sample); i++ {
		if i == 1000 {
			t.Fatal("othersWaiting = true 1000 times with nothing ready to run")
		}
		runtime.Gosched()
	}
}

// TestKeepProcessor: with one processor and a goroutine always ready to
// run, Key hands the processor over on the way, and never with
// KeepProcessor. Counting the handovers rather than watching the other
// goroutine run keeps the runtime's own preemption (after 10 ms on a busy
// machine) out of the result.
func TestKeepProcessor(t *testing.T) {
	if !Native() {
		t.Skip("x/crypto computes here and never yields")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				runtime.Gosched()
			}
		}
	}()
	defer func() { close(stop); <-done }()
	password, salt := []byte("password"), []byte("saltsaltsaltsalt")
	handovers := func(keep bool) int64 {
		before := yields.Load()
		mem := Memory{KeepProcessor: keep}
		Key(&mem, ModeID, password, salt, 1, 4*yieldEvery, 1, 32)
		return yields.Load() - before
	}
	if n := handovers(false); n == 0 {
		t.Error("a hash that may yield kept its processor from a waiting goroutine")
	}
	if n := handovers(true); n != 0 {
		t.Errorf("a hash with KeepProcessor handed its processor over %d times", n)
	}
}

// TestSafePoints: a computation passes safePoint once every
// safePointEvery blocks it compresses, whether or not it keeps its
// processor.
func TestSafePoints(t *testing.T) {
	if !Native() {
		t.Skip("x/crypto computes here")
	}
	const memory = 4 * yieldEvery // one lane, one pass: all but the two seed blocks compressed
	for _, keep := range []bool{true, false} {
		before := safePoints.Load()
		mem := Memory{KeepProcessor: keep}
		Key(&mem, ModeID, []byte("password"), []byte("saltsaltsaltsalt"), 1, memory, 1, 32)
		if got, want := safePoints.Load()-before, int64((memory-2)/safePointEvery); got != want {
			t.Errorf("KeepProcessor %v: %d safe points, want %d", keep, got, want)
		}
	}
}

// TestStopTheWorldDuringHash: a stop-the-world (here runtime.ReadMemStats)
// requested in the middle of a hash that keeps its processor completes
// long before the hash does, because the loop passes safePoint. The child
// process runs with signal-based preemption off (GODEBUG
// asyncpreemptoff=1), so that only the safe points can stop the hash:
// without them the world stays stopped for the rest of the hash, half of
// it here. Any hash with data-dependent addressing would do; 8 passes
// over 16 MiB make it long enough to tell the two apart on any machine.
func TestStopTheWorldDuringHash(t *testing.T) {
	if !Native() {
		t.Skip("x/crypto computes here")
	}
	if os.Getenv("GATEHOUSE_ARGON2_STW_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStopTheWorldDuringHash$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "GATEHOUSE_ARGON2_STW_CHILD=1", "GODEBUG=asyncpreemptoff=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child process: %v\n%s", err, out)
		}
		t.Logf("child process:\n%s", out)
		return
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	password, salt := []byte("password"), []byte("saltsaltsaltsalt")
	mem := Memory{KeepProcessor: true}
	hash := func() { Key(&mem, ModeID, password, salt, 8, 16<<10, 1, 32) }
	hash() // the memory's first use pays its page faults
	start := time.Now()
	hash()
	alone := time.Since(start)
	for try := 1; ; try++ {
		ended := make(chan time.Time, 1)
		start := time.Now()
		go func() { hash(); ended <- time.Now() }()
		time.Sleep(alone / 2)
		asked := time.Now()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		stopped := time.Since(asked)
		end := <-ended
		if end.Before(asked) {
			if try == 3 {
				t.Fatalf("the hash (%v alone) ended before the stop-the-world was asked for, three times: machine too busy", alone)
			}
			continue
		}
		t.Logf("hash %v (alone %v); the stop-the-world asked for after %v took %v", end.Sub(start), alone, asked.Sub(start), stopped)
		if stopped > alone/4 {
			t.Fatalf("the stop-the-world took %v, asked for %v into a hash of %v: the hash held it", stopped, asked.Sub(start), end.Sub(start))
		}
		return
	}
}

// BenchmarkStopTheWorld measures a stop-the-world (runtime.ReadMemStats)
// with nothing else running ("idle") and while a hash that keeps its
// processor runs on another ("hashing"): what a garbage collection's
// pauses and a GOMAXPROCS change cost every request when a sign-in is
// being hashed.
func BenchmarkStopTheWorld(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
	var ms runtime.MemStats
	b.Run("idle", func(b *testing.B) {
		for b.Loop() {
			runtime.ReadMemStats(&ms)
		}
	})
	b.Run("hashing", func(b *testing.B) {
		if !Native() {
			b.Skip("x/crypto computes here")
		}
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			mem := Memory{KeepProcessor: true}
			for {
				select {
				case <-stop:
					return
				default:
					Key(&mem, ModeID, []byte("password"), []byte("saltsaltsaltsalt"), 2, 19<<10, 1, 32)
				}
			}
		}()
		defer func() { close(stop); <-done }()
		time.Sleep(time.Millisecond)
		var stopped time.Duration
		for b.Loop() {
			time.Sleep(time.Millisecond) // a stop at a random point of the hash
			start := time.Now()
			runtime.ReadMemStats(&ms)
			stopped += time.Since(start)
		}
		b.ReportMetric(float64(stopped.Microseconds())/float64(b.N), "µs/stop")
	})
}
