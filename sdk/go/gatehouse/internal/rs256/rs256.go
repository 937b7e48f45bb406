// Package rs256 verifies RS256 signatures (RSASSA-PKCS1-v1_5 with
// SHA-256) made with a 2048-bit key whose public exponent is 65537, the
// keys Gatehouse and WorkOS publish.
//
// crypto/rsa sets its modulus up again on every verification: about two
// fifths of the time in a profile on an AMD EPYC Zen 3
// (docs/benchmarks.md). A Key does it once, when the JWKS is read, and
// then raises the signature to the 65537th power with 18 Montgomery
// products on the CPU's ADX and BMI2 instructions. Only public values are
// involved, so nothing here needs to run in constant time.
package rs256

import (
	"bytes"
	"crypto/rsa"
	"encoding/binary"
	"math/big"
	"math/bits"
)

const (
	words = 2048 / 64
	size  = 2048 / 8
)

// Key is a public key with its Montgomery constants.
type Key struct {
	n  [words]uint64 // the modulus, least significant word first
	rr [words]uint64 // 2⁴⁰⁹⁶ mod n, which takes a value into Montgomery form
	k0 uint64        // −n⁻¹ mod 2⁶⁴
}

// New returns pub's Key, or nil where this package does not apply: a
// modulus of another length than 2048 bits, an exponent other than 65537,
// or a CPU without ADX and BMI2. The caller then verifies with crypto/rsa.
func New(pub *rsa.PublicKey) *Key {
	if !supported || pub.N == nil || pub.N.BitLen() != 2048 || pub.N.Bit(0) == 0 || pub.E != 65537 {
		return nil
	}
	k := &Key{}
	toWords(&k.n, pub.N.FillBytes(make([]byte, size)))
	// k0: Newton's iteration doubles the bits of n[0]⁻¹ that are right,
	// from 3 (n[0] is its own inverse modulo 8) to 96.
	inv := k.n[0]
	for range 5 {
		inv *= 2 - k.n[0]*inv
	}
	k.k0 = -inv
	rr := new(big.Int).Lsh(big.NewInt(1), 2*2048)
	toWords(&k.rr, rr.Mod(rr, pub.N).FillBytes(make([]byte, size)))
	return k
}

// Verify reports whether sig is k's RS256 signature of digest, a SHA-256
// digest: sig⁶⁵⁵³⁷ mod n must be exactly the PKCS #1 v1.5 encoding of
// digest (RFC 8017 §8.2.2), and sig, as a number, less than n.
func (k *Key) Verify(digest *[32]byte, sig []byte) bool {
	if len(sig) != size {
		return false
	}
	var s [words]uint64
	toWords(&s, sig)
	if !less(&s, &k.n) {
		return false
	}
	// a = s·2²⁰⁴⁸ mod n (Montgomery form), squared 16 times to s^(2¹⁶) in
	// Montgomery form; one more product with s, not in Montgomery form,
	// gives s^(2¹⁶+1) = s⁶⁵⁵³⁷ mod n out of it.
	var a [words]uint64
	montMul(&a, &s, &k.rr, &k.n, k.k0)
	for range 16 {
		montMul(&a, &a, &a, &k.n, k.k0)
	}
	montMul(&a, &a, &s, &k.n, k.k0)
	var em [size]byte
	toBytes(&em, &a)
	return bytes.Equal(em[:size-len(digest)], encodedPrefix[:]) && bytes.Equal(em[size-len(digest):], digest[:])
}

// encodedPrefix is what comes before the digest in an encoded SHA-256
// message: 0x00 0x01, 0xff padding, 0x00, then the DigestInfo DER prefix
// of RFC 8017 §9.2, note 1.
var encodedPrefix = func() (p [size - 32]byte) {
	digestInfo := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	p[1] = 0x01
	pad := len(p) - len(digestInfo) - 1
	for i := 2; i < pad; i++ {
		p[i] = 0xff
	}
	copy(p[pad+1:], digestInfo)
	return p
}()

// toWords reads the big-endian b, size bytes, into little-endian words.
func toWords(z *[words]uint64, b []byte) {
	for i := range words {
		z[i] = binary.BigEndian.Uint64(b[size-8*(i+1):])
	}
}

// toBytes writes x as size big-endian bytes into b.
func toBytes(b *[size]byte, x *[words]uint64) {
	for i, w := range x {
		binary.BigEndian.PutUint64(b[size-8*(i+1):], w)
	}
}

// less reports whether x < y.
func less(x, y *[words]uint64) bool {
	var borrow uint64
	for i := range words {
		_, borrow = bits.Sub64(x[i], y[i], borrow)
	}
	return borrow == 1
}
