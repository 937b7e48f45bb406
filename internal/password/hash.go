package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/internal/password/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the degree of parallelism (the number of lanes).
	Threads uint8
	// SaltLen is the length of the random salt in bytes.
	SaltLen uint32
	// KeyLen is the length of the derived key in bytes.
	KeyLen uint32
}

// DefaultParams are the OWASP Password Storage Cheat Sheet baseline for
// argon2id: 19 MiB of memory, two passes, one lane, a 16-byte salt and a
// 32-byte key.
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Validate reports whether p is usable for making new hashes.
func (p Params) Validate() error {
	switch {
	case p.Time < 1:
		return errors.New("password: time cost must be at least 1")
	case p.Threads < 1:
		return errors.New("password: threads must be at least 1")
	case p.Memory < 8*uint32(p.Threads):
		return errors.New("password: memory cost must be at least 8 KiB per thread")
	case p.SaltLen < 16 || p.SaltLen > 64:
		return errors.New("password: salt length must be 16 to 64 bytes")
	case p.KeyLen < 16 || p.KeyLen > 64:
		return errors.New("password: key length must be 16 to 64 bytes")
	}
	return nil
}

var (
	// ErrMalformedHash is returned, wrapped with details, for an encoded
	// hash that cannot be parsed or whose parameters are out of bounds.
	ErrMalformedHash = errors.New("password: malformed hash")
	// ErrUnsupportedHashType is returned, wrapped with details, for a hash
	// algorithm or imported hash type this package does not handle.
	ErrUnsupportedHashType = errors.New("password: unsupported hash type")
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedHash, fmt.Sprintf(format, args...))
}

func unsupported(name string) error {
	if len(name) > 32 {
		name = name[:32] + "..."
	}
	return fmt.Errorf("%w: %q", ErrUnsupportedHashType, name)
}

const (
	// maxPasswordBytes is the longest password that Hash accepts and Verify
	// tries: MaxLength code points of at most four bytes each.
	maxPasswordBytes = 4 * MaxLength
	// maxEncodedLen bounds an encoded hash before it is parsed. The longest
	// hash within limits is about 250 bytes.
	maxEncodedLen = 512
)

// limits bound the parameters of a hash that may be verified, so that
// verifying cannot be made to exhaust memory or CPU.
type limits struct {
	maxMemory, maxTime           uint32
	maxThreads                   uint8
	minSalt, maxSalt             int
	minKey, maxKey               int
	minBcryptCost, maxBcryptCost int
}

// importLimits are the caps for hashes supplied from outside.
var importLimits = limits{
	maxMemory:     262144,
	maxTime:       16,
	maxThreads:    16,
	minSalt:       8,
	maxSalt:       64,
	minKey:        16,
	maxKey:        64,
	minBcryptCost: 4,
	maxBcryptCost: 16,
}

// Hasher hashes and verifies passwords with bounded concurrency. It is safe
// for concurrent use.
type Hasher struct {
	params Params
	limits limits
	sem    *semaphore
	slots  int64
	dummy  string
	mems   memPool
	// ownProcessors: see SetOwnProcessors.
	ownProcessors atomic.Bool
	// computed and cpuNanos count the computations and the CPU time their
	// threads spent on them (see Stats).
	computed, cpuNanos atomic.Int64

	// testEnter and testExit, when set by tests, run at the start and end
	// of every computation while it holds its slots, on the computation's
	// thread.
	testEnter, testExit func()
}

// DefaultConcurrency is how many hashes a Hasher computes at once unless
// told otherwise: GOMAXPROCS less one, and at least one. The processor left
// over keeps token requests (and a database on the same host) fast during
// a sign-in storm; on 2 cores that halves the sign-ins a storm can get
// through, measured in docs/performance.md.
func DefaultConcurrency() int { return max(1, runtime.GOMAXPROCS(0)-1) }

// NewHasher returns a Hasher that makes argon2id hashes with p and runs at
// most limit hash computations at once, counting the verification of a hash
// dearer than p as several; limit <= 0 means DefaultConcurrency. NewHasher
// panics if p is invalid; check configured parameters with Params.Validate
// first.
func NewHasher(p Params, limit int) *Hasher {
	if err := p.Validate(); err != nil {
		panic(err)
	}
	if limit <= 0 {
		limit = DefaultConcurrency()
	}
	lim := importLimits
	lim.maxMemory = max(lim.maxMemory, p.Memory)
	lim.maxTime = max(lim.maxTime, p.Time)
	lim.maxThreads = max(lim.maxThreads, p.Threads)
	h := &Hasher{
		params: p,
		limits: lim,
		sem:    newSemaphore(int64(limit)),
		slots:  int64(limit),
		mems:   memPool{max: limit, maxKiB: p.Memory},
	}
	// The dummy hash has the current parameters and a random key, so no
	// password matches it and verifying against it costs what a real
	// verification costs.
	h.dummy = h.newArgon2Hash(randomBytes(p.KeyLen)).encode()
	return h
}

func randomBytes(n uint32) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails since Go 1.24
	return b
}

// Slots is how many hash computations h runs at once.
func (h *Hasher) Slots() int { return int(h.slots) }

func (h *Hasher) newArgon2Hash(key []byte) *argon2Hash {
	return &argon2Hash{
		mode:    modeArgon2id,
		version: argon2.Version,
		memory:  h.params.Memory,
		time:    h.params.Time,
		threads: h.params.Threads,
		salt:    randomBytes(h.params.SaltLen),
		key:     key,
	}
}

// Hash returns an argon2id PHC string for password made with h's parameters
// and a fresh random salt. It waits for a free slot, returning ctx.Err() if
// ctx ends first.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if password == "" {
		return "", errors.New("password: empty password")
	}
	if len(password) > maxPasswordBytes {
		return "", errors.New("password: password too long")
	}
	a := h.newArgon2Hash(nil)
	err := h.run(ctx, 1, func(mem *argon2.Memory) {
		a.key = argon2.Key(mem, argon2.ModeID, []byte(password), a.salt, a.time, a.memory, a.threads, h.params.KeyLen)
	})
	if err != nil {
		return "", err
	}
	return a.encode(), nil
}

// Verify reports whether password matches the encoded hash, which may be an
// argon2id or argon2i PHC string (version 19, or 16, which is also what an
// absent "v=" means) or a bcrypt hash ($2a$, $2b$ or $2y$). needsRehash is true when the password
// matches but the hash is not argon2id with exactly h's parameters; the
// caller should then store a new hash from Hash. A hash that cannot be
// parsed or exceeds the cost limits yields an error wrapping
// ErrMalformedHash, and an unknown algorithm one wrapping
// ErrUnsupportedHashType. Verify waits for a free slot like Hash.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, needsRehash bool, err error) {
	ph, err := parseHash(encoded, &h.limits)
	if err != nil {
		return false, false, err
	}
	if len(password) > maxPasswordBytes {
		// Hash never accepted such a password.
		return false, false, nil
	}
	var verr error
	err = h.run(ctx, h.weight(ph), func(mem *argon2.Memory) {
		ok, verr = ph.verify(mem, []byte(password))
	})
	if err != nil {
		return false, false, err
	}
	if verr != nil {
		return false, false, verr
	}
	if !ok {
		return false, false, nil
	}
	return true, !h.isCurrent(ph), nil
}

// DummyVerify performs the same work as a real verify against a fixed dummy
// hash, so callers can equalise timing when a user doesn't exist. Its
// result is meaningless and discarded.
func (h *Hasher) DummyVerify(ctx context.Context, password string) {
	_, _, _ = h.Verify(ctx, h.dummy, password)
}

// SetOwnProcessors tells h whether GOMAXPROCS counts a processor for each
// of its slots on top of those requests use (gatehouse serve adds them).
// With them a computation keeps its processor to the end; without, it
// hands it over every ~0.35 ms while another goroutine waits for one, so
// that requests do not queue behind hashes. Measured in
// docs/performance-history.md (twelfth session): handing it over cost
// sign-ins ~3 % of their rate per CPU-second when the processor was the
// hash's own.
func (h *Hasher) SetOwnProcessors(own bool) { h.ownProcessors.Store(own) }

// OwnProcessors reports what SetOwnProcessors last set.
func (h *Hasher) OwnProcessors() bool { return h.ownProcessors.Load() }

// run calls f with a block memory while holding weight slots of h's
// semaphore.
func (h *Hasher) run(ctx context.Context, weight int64, f func(mem *argon2.Memory)) error {
	// Whoever leaves the semaphore idle clears the memories that hold
	// blocks left for a computation that did not come (see memPool).
	defer func() {
		if h.sem.idle() {
			h.mems.wipeHeld()
		}
	}()
	if err := h.sem.acquire(ctx, weight); err != nil {
		return err
	}
	defer h.sem.release(weight)
	mem := h.mems.get()
	mem.KeepProcessor = h.ownProcessors.Load()
	h.compute(func() {
		f(mem)
		// With a computation waiting for a slot, the blocks are left for
		// it to overwrite, unless a dearer hash grew the memory, which put
		// lets go.
		if !h.sem.waiting() || !h.mems.fits(mem) {
			mem.Wipe()
		}
	})
	h.mems.put(mem)
	return nil
}

// compute runs f, the CPU-heavy part of a hash, on a hashing thread (see
// lowPriority), with the test hooks around it. A panic in f is raised
// again in the caller.
func (h *Hasher) compute(f func()) {
	p := lowPriority(func() {
		start := threadCPU()
		defer func() {
			h.cpuNanos.Add(int64(threadCPU() - start))
			h.computed.Add(1)
		}()
		if h.testEnter != nil {
			h.testEnter()
		}
		if h.testExit != nil {
			defer h.testExit()
		}
		f()
	})
	if p != nil {
		panic(p)
	}
}

// Stats reports how many hash computations h has run (hashes, checks and
// the dummy checks for unknown accounts) and the CPU time their threads
// spent on them. The CPU time is read from the thread's own clock, which
// the computation has to itself (see lowPriority), so it leaves out the
// hand-over to the thread and everything else the process does: set
// against the process's CPU, it tells how much of it went to hashing. It
// is zero where the operating system has no such clock (it is Linux only
// here).
func (h *Hasher) Stats() (computations int64, cpu time.Duration) {
	return h.computed.Load(), time.Duration(h.cpuNanos.Load())
}

// weight is the number of slots verifying ph takes: argon2 hashes dearer in
// memory or lanes than h's own count as several computations, up to all
// slots.
func (h *Hasher) weight(ph parsedHash) int64 {
	a, ok := ph.(*argon2Hash)
	if !ok {
		return 1
	}
	mem := (uint64(a.memory) + uint64(h.params.Memory) - 1) / uint64(h.params.Memory)
	thr := (uint64(a.threads) + uint64(h.params.Threads) - 1) / uint64(h.params.Threads)
	return int64(min(max(mem, thr, 1), uint64(h.slots)))
}

// isCurrent reports whether ph is argon2id with exactly h's parameters.
func (h *Hasher) isCurrent(ph parsedHash) bool {
	a, ok := ph.(*argon2Hash)
	return ok &&
		a.mode == modeArgon2id &&
		a.version == argon2Version13 &&
		a.memory == h.params.Memory &&
		a.time == h.params.Time &&
		a.threads == h.params.Threads &&
		len(a.salt) == int(h.params.SaltLen) &&
		len(a.key) == int(h.params.KeyLen)
}

// ValidateImported checks a hash supplied through the Users API as
// password_hash with type password_hash_type, and returns it unchanged for
// storage. Type "bcrypt" takes $2a$, $2b$ or $2y$ hashes of cost 4 to 16;
// type "argon2" takes argon2id or argon2i PHC strings with memory at most
// 262144 KiB, at most 16 passes and 16 lanes, an 8- to 64-byte salt and a
// 16- to 64-byte key. Other types yield an error wrapping
// ErrUnsupportedHashType; a hash that doesn't pass yields one wrapping
// ErrMalformedHash that says what is wrong.
func ValidateImported(hashType, hash string) (string, error) {
	if hashType != "bcrypt" && hashType != "argon2" {
		return "", unsupported(hashType)
	}
	ph, err := parseHash(hash, &importLimits)
	if err != nil {
		return "", err
	}
	switch ph.(type) {
	case *bcryptHash:
		if hashType != "bcrypt" {
			return "", malformed("hash type is %s but the hash is bcrypt", hashType)
		}
	case *argon2Hash:
		if hashType != "argon2" {
			return "", malformed("hash type is %s but the hash is argon2", hashType)
		}
	}
	return hash, nil
}

// parsedHash is a decoded hash that can check a password.
type parsedHash interface {
	verify(mem *argon2.Memory, password []byte) (bool, error)
}

// parseHash decodes encoded, refusing parameters beyond lim.
func parseHash(encoded string, lim *limits) (parsedHash, error) {
	switch {
	case encoded == "":
		return nil, malformed("empty hash")
	case len(encoded) > maxEncodedLen:
		return nil, malformed("hash longer than %d bytes", maxEncodedLen)
	}
	for i := 0; i < len(encoded); i++ {
		// Besides junk, this keeps out the newlines that Go's base64
		// decoders would silently skip.
		if c := encoded[i]; c < '!' || c > '~' {
			return nil, malformed("hash contains a byte outside printable ASCII")
		}
	}
	rest, ok := strings.CutPrefix(encoded, "$")
	if !ok {
		return nil, malformed("hash does not start with $")
	}
	id, _, ok := strings.Cut(rest, "$")
	if !ok {
		return nil, malformed("hash has no algorithm identifier")
	}
	switch id {
	case "argon2id", "argon2i":
		return parseArgon2(encoded, lim)
	case "2a", "2b", "2y":
		return parseBcrypt(encoded, lim)
	}
	return nil, unsupported(id)
}

// Argon2 modes, as numbered in RFC 9106.
const (
	modeArgon2i  = 1
	modeArgon2id = 2
)

// Argon2 versions.
const (
	argon2Version10 = 0x10 // refused: see parseArgon2
	argon2Version13 = argon2.Version
)

var b64 = base64.RawStdEncoding.Strict()

// argon2Hash is a decoded argon2 PHC string.
type argon2Hash struct {
	mode    uint32
	version uint32
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

func (a *argon2Hash) encode() string {
	name := "argon2id"
	if a.mode == modeArgon2i {
		name = "argon2i"
	}
	return fmt.Sprintf("$%s$v=%d$m=%d,t=%d,p=%d$%s$%s",
		name, a.version, a.memory, a.time, a.threads,
		b64.EncodeToString(a.salt), b64.EncodeToString(a.key))
}

func (a *argon2Hash) verify(mem *argon2.Memory, password []byte) (bool, error) {
	var key []byte
	keyLen := uint32(len(a.key))
	switch {
	case a.version == argon2Version13 && a.mode == modeArgon2id:
		key = argon2.Key(mem, argon2.ModeID, password, a.salt, a.time, a.memory, a.threads, keyLen)
	case a.version == argon2Version13 && a.mode == modeArgon2i:
		key = argon2.Key(mem, argon2.ModeI, password, a.salt, a.time, a.memory, a.threads, keyLen)
	default:
		return false, unsupported("argon2 version " + strconv.Itoa(int(a.version)))
	}
	return subtle.ConstantTimeCompare(key, a.key) == 1, nil
}

// parseArgon2 decodes $argon2<i|id>[$v=<16|19>]$m=<m>,t=<t>,p=<p>$<salt>$<key>.
func parseArgon2(encoded string, lim *limits) (*argon2Hash, error) {
	f := strings.Split(encoded, "$")
	if len(f) != 5 && len(f) != 6 {
		return nil, malformed("argon2: want 4 or 5 $-separated fields, have %d", len(f)-1)
	}
	a := &argon2Hash{mode: modeArgon2id}
	if f[1] == "argon2i" {
		a.mode = modeArgon2i
	}
	f = f[2:]
	if len(f) == 3 && strings.HasPrefix(f[0], "m=") {
		return nil, unsupported("argon2 hash without v= (version 16, 0x10); rehash with version 19, or import users without a password and let them reset it")
	}
	if len(f) != 4 {
		return nil, malformed("argon2: want 5 $-separated fields, have %d", len(f)+1)
	}
	{
		s, ok := strings.CutPrefix(f[0], "v=")
		if !ok {
			return nil, malformed("argon2: want version field v=")
		}
		v, err := parseDecimal(s)
		if err != nil {
			return nil, malformed("argon2: version: %v", err)
		}
		switch v {
		case argon2Version13:
			a.version = v
		case argon2Version10:
			// Version 0x10 (1.0, 2015) predates RFC 9106 and is not in
			// x/crypto; we do not carry our own Argon2 to support it.
			return nil, unsupported("argon2 version 16 (0x10); rehash with version 19, or import users without a password and let them reset it")
		default:
			return nil, malformed("argon2: unsupported version %d", v)
		}
		f = f[1:]
	}

	params := strings.Split(f[0], ",")
	if len(params) != 3 {
		return nil, malformed("argon2: want parameters m, t, p")
	}
	var vals [3]uint32
	for i, name := range []string{"m=", "t=", "p="} {
		s, ok := strings.CutPrefix(params[i], name)
		if !ok {
			return nil, malformed("argon2: want parameter %s in position %d", name[:1], i+1)
		}
		v, err := parseDecimal(s)
		if err != nil {
			return nil, malformed("argon2: parameter %s: %v", name[:1], err)
		}
		vals[i] = v
	}
	m, t, p := vals[0], vals[1], vals[2]
	switch {
	case p < 1 || p > uint32(lim.maxThreads):
		return nil, malformed("argon2: parallelism %d outside 1..%d", p, lim.maxThreads)
	case t < 1 || t > lim.maxTime:
		return nil, malformed("argon2: time cost %d outside 1..%d", t, lim.maxTime)
	case m < 8*p:
		return nil, malformed("argon2: memory cost %d KiB below 8 KiB per lane", m)
	case m > lim.maxMemory:
		return nil, malformed("argon2: memory cost %d KiB exceeds the limit of %d KiB", m, lim.maxMemory)
	}
	a.memory, a.time, a.threads = m, t, uint8(p)

	var err error
	if a.salt, err = decodeB64(f[1], lim.minSalt, lim.maxSalt); err != nil {
		return nil, malformed("argon2: salt: %v", err)
	}
	if a.key, err = decodeB64(f[2], lim.minKey, lim.maxKey); err != nil {
		return nil, malformed("argon2: key: %v", err)
	}
	return a, nil
}

// parseDecimal parses a canonical decimal uint32: digits only, no sign and
// no leading zeros.
func parseDecimal(s string) (uint32, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a decimal number")
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("leading zero")
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errors.New("number out of range")
	}
	return uint32(v), nil
}

// decodeB64 decodes canonical unpadded standard base64 of minLen..maxLen
// bytes.
func decodeB64(s string, minLen, maxLen int) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, errors.New("invalid base64")
	}
	if len(b) < minLen || len(b) > maxLen {
		return nil, fmt.Errorf("length %d outside %d..%d bytes", len(b), minLen, maxLen)
	}
	return b, nil
}

// bcryptHash is a validated bcrypt hash.
type bcryptHash struct {
	encoded string
}

func (b *bcryptHash) verify(_ *argon2.Memory, password []byte) (bool, error) {
	err := bcrypt.CompareHashAndPassword([]byte(b.encoded), password)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	}
	return false, malformed("bcrypt: %v", err)
}

const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// parseBcrypt checks $2<a|b|y>$<cost>$<22-char salt><31-char hash>.
func parseBcrypt(encoded string, lim *limits) (*bcryptHash, error) {
	if len(encoded) != 60 {
		return nil, malformed("bcrypt: want 60 characters, have %d", len(encoded))
	}
	d1, d2 := encoded[4], encoded[5]
	if d1 < '0' || d1 > '9' || d2 < '0' || d2 > '9' || encoded[6] != '$' {
		return nil, malformed("bcrypt: want a two-digit cost")
	}
	cost := int(d1-'0')*10 + int(d2-'0')
	if cost < lim.minBcryptCost || cost > lim.maxBcryptCost {
		return nil, malformed("bcrypt: cost %d outside %d..%d", cost, lim.minBcryptCost, lim.maxBcryptCost)
	}
	for i := 7; i < len(encoded); i++ {
		if strings.IndexByte(bcryptAlphabet, encoded[i]) < 0 {
			return nil, malformed("bcrypt: invalid character in salt or hash")
		}
	}
	return &bcryptHash{encoded: encoded}, nil
}
