// Package ids makes Gatehouse identifiers: a type prefix, an underscore and a
// ULID (https://github.com/ulid/spec), such as user_01JD6Z3M4Q8R7W0V2T5Y9XKC1B.
//
// The 48-bit millisecond timestamp makes IDs sort by creation time, which
// keyset pagination relies on; the 80 random bits come from crypto/rand, so
// IDs cannot be guessed. Within one millisecond IDs are made monotonic per
// process, so a list ordered by ID is also ordered by creation on one node.
package ids

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"sync"
	"time"
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var (
	mu       sync.Mutex
	lastMS   uint64
	lastRand [10]byte
)

// New returns a fresh identifier with the given prefix, for example
// New("user") returns "user_01J…".
func New(prefix string) string {
	return prefix + "_" + ulid(time.Now())
}

// Floor returns the smallest identifier with the given prefix made at t:
// every identifier made by New in an earlier millisecond sorts (bytewise)
// below it, and every one made at or after t's millisecond does not. A
// sweep uses it to delete rows recorded before a time through the primary
// key alone.
func Floor(prefix string, t time.Time) string {
	return prefix + "_" + format(uint64(max(t.UnixMilli(), 0)), [10]byte{})
}

func ulid(now time.Time) string {
	ms := uint64(now.UnixMilli())
	mu.Lock()
	var r [10]byte
	if ms <= lastMS {
		// Same (or earlier, if the clock stepped back) millisecond: increment
		// the previous random part so IDs stay strictly increasing.
		ms = lastMS
		r = lastRand
		for i := 9; i >= 0; i-- {
			r[i]++
			if r[i] != 0 {
				break
			}
		}
	} else {
		rand.Read(r[:])
	}
	lastMS, lastRand = ms, r
	mu.Unlock()
	return format(ms, r)
}

func format(ms uint64, r [10]byte) string {
	var b [16]byte
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	copy(b[6:], r[:])
	return encode(b)
}

// encode writes 128 bits as 26 Crockford base32 characters (the first
// character carries only 3 bits).
func encode(b [16]byte) string {
	hi := binary.BigEndian.Uint64(b[0:8])
	lo := binary.BigEndian.Uint64(b[8:16])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// Valid reports whether id has the given prefix followed by a well-formed
// ULID. Use it to reject garbage before it reaches the database.
func Valid(id, prefix string) bool {
	rest, ok := strings.CutPrefix(id, prefix+"_")
	if !ok || len(rest) != 26 || rest[0] > '7' {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(crockford, rest[i]) < 0 {
			return false
		}
	}
	return true
}
