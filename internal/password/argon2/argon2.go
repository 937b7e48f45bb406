// Package argon2 computes Argon2id and Argon2i (version 0x13, RFC 9106)
// in the calling goroutine, in block memory that the caller keeps and
// reuses, with AVX2 on amd64.
//
// golang.org/x/crypto/argon2 computes the same keys but allocates the
// block memory (19 MiB at the OWASP parameters) for every hash and runs
// every segment in a new goroutine. Under a password-sign-in load that
// means a fresh allocation to zero and page-fault in per hash, garbage for
// the collector, and hashing goroutines the scheduler cannot tell apart
// from request goroutines. Here the memory is the caller's to keep (and
// advised for huge pages), the computation looks every thousand blocks
// (~0.35 ms) whether a goroutine is waiting for a processor and yields it
// then, so requests queued behind a hash wait well under a millisecond,
// it gives the runtime a point to stop it at every 256 blocks, so a
// garbage collection does not hold every other goroutine until the hash
// ends, and the AVX2 compression function is about 1.7 times as fast as
// x/crypto's SSE4.1 one on the machines we measured
// (docs/perf-hashing.md).
//
// Without AVX2 (or off amd64) Key hands the work to x/crypto, which gives
// the same result. The tests check every output against x/crypto and the
// RFC 9106 test vectors.
package argon2

import (
	"encoding/binary"
	"runtime"
	"runtime/metrics"
	"sync/atomic"

	xargon2 "golang.org/x/crypto/argon2"
	"golang.org/x/crypto/blake2b"
)

// Mode is the Argon2 variant: the y parameter of RFC 9106.
type Mode uint32

const (
	// ModeI is Argon2i: data-independent addressing throughout.
	ModeI Mode = 1
	// ModeID is Argon2id: data-independent addressing for the first half
	// of the first pass, data-dependent after.
	ModeID Mode = 2
)

// Version is the Argon2 version computed, 0x13 (19).
const Version = 0x13

const (
	syncPoints = 4   // slices per pass
	blockWords = 128 // 64-bit words in a 1 KiB block
	// yieldEvery is how many blocks are compressed between two looks at
	// whether another goroutine is waiting for a processor: about 0.35 ms
	// of work.
	yieldEvery = 1024
	// safePointEvery is how many blocks are compressed between two calls
	// of safePoint: about 0.09 ms of work. It divides yieldEvery.
	safePointEvery = 256
)

type block [blockWords]uint64

// yields counts the times a computation handed its processor over, for the
// tests.
var yields atomic.Int64

// safePoints counts the calls of safePoint, for the tests.
var safePoints atomic.Int64

// safePoint is a call at which the runtime can stop the computation. Go
// stops a running goroutine (for the stop-the-world phases of a garbage
// collection, a GOMAXPROCS change, the end of a 10 ms time slice) either
// at the prologue of a Go function that checks its stack or with a signal.
// The compression loop has no such prologue (compressAVX2 is assembly;
// refIndex is a leaf, which the compiler exempts from the check), and the
// signal lands in the assembly nearly every time and is retried every
// 0.1 ms: a stop-the-world waited about 2 ms on average for a running hash,
// with the rest of the process stopped meanwhile (docs/benchmarks.md). A
// function that calls another keeps its check, hence the two.
//
//go:noinline
func safePoint() { countSafePoint() }

//go:noinline
func countSafePoint() { safePoints.Add(1) }

// runnableMetric counts goroutines ready to run but not running.
const runnableMetric = "/sched/goroutines/runnable:goroutines"

// othersWaiting reports whether any goroutine is waiting for a processor,
// reading the runtime's count into sample (about 0.1 µs). The hash yields
// only then: a runtime.Gosched with nothing waiting still wakes an idle
// processor to look for work (a futex call, tens of microseconds on the
// VMs we measured, 11 % of the CPU of a sign-in storm), and the hash may
// then resume on the other processor, whose caches and TLB are cold. Work
// that arrives while both processors are busy becomes runnable at the
// latest when the runtime's monitor polls the network (every 10 ms), and
// the runtime preempts a goroutine that has run 10 ms anyway.
func othersWaiting(sample []metrics.Sample) bool {
	metrics.Read(sample)
	v := sample[0].Value
	return v.Kind() != metrics.KindUint64 || v.Uint64() > 0
}

// Memory is the block memory of one computation at a time. The zero value
// is ready to use; it grows to the largest memory cost it has computed.
// A Memory must not be used by two computations at once.
type Memory struct {
	// KeepProcessor makes Key keep its Go processor to the end instead of
	// handing it to waiting goroutines: for callers that count a processor
	// of its own for each computation in GOMAXPROCS, where the handover
	// only costs (with a goroutine locked to its thread, each one is two
	// thread wake-ups).
	KeepProcessor bool

	// DeferWipe leaves the blocks of a computation of two or more passes
	// in place when Key returns, for the caller to Wipe or for the next
	// computation in this Memory to overwrite, which it does in its first
	// pass. Clearing 19 MiB costs about 8 % of a hash (docs/perf-hashing.md,
	// round 9), which a caller with another computation queued need not
	// pay. What such a computation leaves is its last pass: every block
	// of it depends on the whole of the first pass, so checking a password
	// guess against it costs at least a pass of the memory-hard work, where
	// the first pass's blocks (which the running computation holds anyway,
	// and which are cleared before Key returns if it panics) cost a
	// guess far less. A computation of one pass is always cleared.
	DeferWipe bool

	blocks []block
	// held is how many blocks, from the first, may hold a computation's
	// state: cleared by Wipe, overwritten by the next computation.
	held uint32
	z    block // scratch for the compression function
}

// Wipe clears the blocks a computation left in m (see DeferWipe).
func (m *Memory) Wipe() {
	clear(m.blocks[:m.held])
	m.held = 0
}

// Held reports whether m holds blocks of a computation that Wipe has not
// cleared (see DeferWipe).
func (m *Memory) Held() bool { return m.held > 0 }

// Native reports whether Key computes here, with AVX2, rather than in
// x/crypto (which ignores the Memory).
func Native() bool { return useAVX2 }

// Size is the memory it holds, in KiB.
func (m *Memory) Size() uint32 { return uint32(len(m.blocks)) }

// Key derives keyLen bytes from password and salt with the given mode,
// time (passes), memory (KiB) and threads (lanes), like x/crypto's
// argon2.IDKey (ModeID) and argon2.Key (ModeI). mem may be nil, when it
// uses a Memory of its own. Lanes are computed one after another, so
// threads > 1 costs the same CPU time as in x/crypto but takes longer.
// The block memory is cleared before Key returns, unless mem.DeferWipe
// says otherwise.
func Key(mem *Memory, mode Mode, password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	if !useAVX2 {
		if mode == ModeI {
			return xargon2.Key(password, salt, time, memory, threads, keyLen)
		}
		return xargon2.IDKey(password, salt, time, memory, threads, keyLen)
	}
	if mem == nil {
		mem = new(Memory)
	}
	return mem.key(mode, password, salt, nil, nil, time, memory, threads, keyLen)
}

// key is Key with RFC 9106's secret and associated data, which the tests
// need for the RFC's vectors.
func (mem *Memory) key(mode Mode, password, salt, secret, data []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	if time < 1 {
		panic("argon2: time must be at least 1")
	}
	if threads < 1 {
		panic("argon2: threads must be at least 1")
	}
	lanes := uint32(threads)
	h0 := initHash(mode, password, salt, secret, data, time, memory, lanes, keyLen)
	// RFC 9106, 3.2: m' is memory rounded down to a multiple of 4p, and at
	// least 8p blocks.
	m := max(memory, 2*syncPoints*lanes) / (syncPoints * lanes) * (syncPoints * lanes)
	if uint32(len(mem.blocks)) < m {
		mem.Wipe()       // the old memory goes to the collector cleared
		mem.blocks = nil // and before the new is taken
		mem.blocks = make([]block, m)
		adviseHugePages(mem.blocks)
	}
	// Blocks past m that an earlier computation left are not overwritten
	// by this one.
	clear(mem.blocks[m:max(m, mem.held)])
	mem.held = m
	B := mem.blocks[:m]
	finished := false
	defer func() {
		clear(mem.z[:])
		if !finished || !mem.DeferWipe || time < 2 {
			mem.Wipe()
		}
	}()
	laneLen := m / lanes
	segLen := laneLen / syncPoints

	// The first two blocks of each lane come from H0.
	var seed [blake2b.Size + 8]byte
	copy(seed[:], h0[:])
	var buf [1024]byte
	for lane := range lanes {
		for j := range uint32(2) {
			binary.LittleEndian.PutUint32(seed[blake2b.Size:], j)
			binary.LittleEndian.PutUint32(seed[blake2b.Size+4:], lane)
			hashPrime(buf[:], seed[:])
			b := &B[lane*laneLen+j]
			for k := range b {
				b[k] = binary.LittleEndian.Uint64(buf[8*k:])
			}
		}
	}
	clear(seed[:]) // H0 is derived from the password
	clear(h0[:])

	var addresses, input, zero block
	done := 0
	runnable := []metrics.Sample{{Name: runnableMetric}}
	for pass := range time {
		for slice := range uint32(syncPoints) {
			for lane := range lanes {
				independent := mode == ModeI || (pass == 0 && slice < syncPoints/2)
				if independent {
					input = block{0: uint64(pass), 1: uint64(lane), 2: uint64(slice), 3: uint64(m), 4: uint64(time), 5: uint64(mode)}
				}
				first := uint32(0)
				if pass == 0 && slice == 0 {
					first = 2 // blocks 0 and 1 are the seed
				}
				cur := lane*laneLen + slice*segLen + first
				prev := cur - 1
				if cur%laneLen == 0 {
					prev = cur + laneLen - 1
				}
				for idx := first; idx < segLen; idx++ {
					var rnd uint64
					if independent {
						if idx%blockWords == 0 || idx == first {
							nextAddresses(&addresses, &input, &zero, &mem.z)
						}
						rnd = addresses[idx%blockWords]
					} else {
						rnd = B[prev][0]
					}
					refLane := uint32(rnd>>32) % lanes
					if pass == 0 && slice == 0 {
						refLane = lane
					}
					ref := refLane*laneLen + refIndex(pass, slice, idx, segLen, laneLen, refLane == lane, uint32(rnd))
					compressAVX2(&B[cur], &B[prev], &B[ref], &mem.z, pass > 0)
					prev, cur = cur, cur+1
					if done++; done%safePointEvery == 0 {
						safePoint()
						if done%yieldEvery == 0 && !mem.KeepProcessor && othersWaiting(runnable) {
							yields.Add(1)
							runtime.Gosched()
						}
					}
				}
			}
		}
	}

	// The tag is H' of the XOR of every lane's last block.
	final := B[laneLen-1]
	for lane := uint32(1); lane < lanes; lane++ {
		b := &B[lane*laneLen+laneLen-1]
		for k := range final {
			final[k] ^= b[k]
		}
	}
	for k, w := range final {
		binary.LittleEndian.PutUint64(buf[8*k:], w)
	}
	clear(final[:])
	out := make([]byte, keyLen)
	hashPrime(out, buf[:])
	clear(buf[:])
	finished = true
	return out
}

// nextAddresses computes the next block of pseudo-random reference
// positions for data-independent addressing: G(0, G(0, input)) after
// incrementing input's counter.
func nextAddresses(addresses, input, zero, z *block) {
	input[6]++
	compressAVX2(addresses, zero, input, z, false)
	compressAVX2(addresses, zero, addresses, z, false)
}

// refIndex maps J1 (the low 32 bits of the pseudo-random value) to the
// index, within the reference lane, of the block that the block at idx of
// the current segment is compressed with (RFC 9106, 3.4.1.2).
func refIndex(pass, slice, idx, segLen, laneLen uint32, sameLane bool, j1 uint32) uint32 {
	// The reference area: every block already computed that is not in an
	// unfinished segment of another lane, less the block just before.
	// (In the first slice of the first pass the reference lane is always
	// the current one.)
	finished := laneLen - segLen // the other three segments
	if pass == 0 {
		finished = slice * segLen
	}
	var size uint32
	switch {
	case sameLane:
		size = finished + idx - 1
	case idx == 0:
		size = finished - 1
	default:
		size = finished
	}
	x := uint64(j1) * uint64(j1) >> 32
	rel := uint64(size) - 1 - (uint64(size) * x >> 32)
	var start uint32
	if pass != 0 && slice != syncPoints-1 {
		start = (slice + 1) * segLen
	}
	return uint32((uint64(start) + rel) % uint64(laneLen))
}

// initHash is H0 of RFC 9106, 3.2.
func initHash(mode Mode, password, salt, secret, data []byte, time, memory, lanes, keyLen uint32) [blake2b.Size]byte {
	h, _ := blake2b.New512(nil)
	var w [4]byte
	put := func(v uint32) {
		binary.LittleEndian.PutUint32(w[:], v)
		h.Write(w[:])
	}
	put(lanes)
	put(keyLen)
	put(memory)
	put(time)
	put(Version)
	put(uint32(mode))
	for _, b := range [][]byte{password, salt, secret, data} {
		put(uint32(len(b)))
		h.Write(b)
	}
	var out [blake2b.Size]byte
	h.Sum(out[:0])
	return out
}

// hashPrime fills out with H'^len(out)(in), the variable-length hash of
// RFC 9106, 3.3.
func hashPrime(out, in []byte) {
	var w [4]byte
	binary.LittleEndian.PutUint32(w[:], uint32(len(out)))
	if len(out) <= blake2b.Size {
		h, _ := blake2b.New(len(out), nil)
		h.Write(w[:])
		h.Write(in)
		h.Sum(out[:0])
		return
	}
	// 32 bytes from each of a chain of 64-byte hashes, then the rest
	// (33–64 bytes) from one hash of that length.
	h, _ := blake2b.New512(nil)
	h.Write(w[:])
	h.Write(in)
	var v [blake2b.Size]byte
	h.Sum(v[:0])
	n := copy(out, v[:32])
	for len(out)-n > blake2b.Size {
		v = blake2b.Sum512(v[:])
		n += copy(out[n:], v[:32])
	}
	h, _ = blake2b.New(len(out)-n, nil)
	h.Write(v[:])
	h.Sum(out[n:n])
}
