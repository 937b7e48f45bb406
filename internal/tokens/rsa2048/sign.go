// Package rsa2048 signs SHA-256 digests with 2048-bit, two-prime RSA keys
// (RSASSA-PKCS1-v1_5, the RS256 of JWTs) faster than crypto/rsa on amd64:
// 2.7 to 3.9 times as fast on CPUs with AVX-512 IFMA, 1.7 times on one with
// only ADX, where measured (docs/benchmarks.md).
//
// An RS256 access token costs one signature, and with crypto/rsa that
// signature is most of the CPU an RS256 refresh or code exchange takes. This
// package computes the two 1024-bit exponentiations of a CRT signature in
// one of two ways: side by side with 52-bit multiply-adds on 512-bit
// registers (amm_amd64.s), where the CPU has AVX-512 IFMA; or one after the
// other with 64-bit MULX and two carry chains (mont_amd64.s, adx.go), where
// it has ADX.
//
// What keeps it safe:
//   - No branch and no memory address depends on the key or the message:
//     the exponent is read in fixed 5-bit windows, every table entry is read
//     for each lookup, and reductions subtract with masks.
//   - Each signature is checked against the public key before it is
//     returned (as crypto/rsa does), so a wrong result is an error, never a
//     signature that could leak the key. On the IFMA path the check runs
//     on the ADX path's scalar products, with constants of its own (see
//     Signer.check).
//   - PKCS #1 v1.5 signatures are deterministic, so the tests compare every
//     signature with crypto/rsa's, byte for byte.
//
// The per-key set-up (Montgomery constants) uses math/big, once, when the key
// is loaded. Built with -tags purego, or on a CPU with neither, New always
// returns ErrUnsupported.
package rsa2048

import (
	"crypto"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"math/big"
	"math/bits"
)

const (
	window   = 5    // exponent bits per table lookup
	expBits  = 1025 // 205 windows cover a 1024-bit exponent
	primeLen = 16   // words of a 1024-bit prime
)

// ErrUnsupported is returned by New when this package cannot sign with the
// key on this CPU; crypto/rsa should be used instead.
var ErrUnsupported = errors.New("rsa2048: key or CPU not supported")

// Supported reports whether this CPU (and build) can use the package: New
// refuses every key where it cannot.
func Supported() bool { return useIFMA || useADX }

// Path names the instructions New's signers use here: "AVX-512 IFMA",
// "ADX", or "" where the package is not supported.
func Path() string {
	switch {
	case useIFMA:
		return "AVX-512 IFMA"
	case useADX:
		return "ADX"
	}
	return ""
}

// A Signer signs with one private key. It is safe for concurrent use.
type Signer struct {
	// Both paths.
	pub *rsa.PublicKey
	exp [2][primeLen]uint64 // dp and dq
	q   [primeLen + 1]uint64

	// The IFMA path (prepare).
	m    pair      // p and q
	k0   [2]uint64 // −p⁻¹ and −q⁻¹ mod 2^52
	rr   pair      // R² mod p and R² mod q, R = 2^1040
	p    [primeLen + 1]uint64
	twoP [primeLen + 1]uint64
	qInv nat // q⁻¹·R mod p

	adx *adxKey // set where the ADX path signs instead (prepareWithADX)
	// checker, on the IFMA path where the CPU has ADX as well, checks each
	// signature with the ADX path's arithmetic against n, the public
	// modulus (Signer.check); without it crypto/rsa checks.
	checker *adxKey
	n       [2 * primeLen]uint64
}

// New prepares a Signer for key, which must have two 1024-bit primes.
func New(key *rsa.PrivateKey) (*Signer, error) {
	if !Supported() || len(key.Primes) != 2 || key.N.BitLen() != 2048 ||
		key.Primes[0].BitLen() != 1024 || key.Primes[1].BitLen() != 1024 {
		return nil, ErrUnsupported
	}
	if useIFMA {
		return prepare(key), nil
	}
	return prepareWithADX(key), nil
}

// prepareShared computes what both paths use: the public key, the CRT
// exponents and q. New has checked the key's shape.
func prepareShared(key *rsa.PrivateKey) *Signer {
	if key.Precomputed.Dp == nil {
		key.Precompute()
	}
	s := &Signer{pub: &key.PublicKey}
	setWords(s.exp[0][:], key.Precomputed.Dp)
	setWords(s.exp[1][:], key.Precomputed.Dq)
	setWords(s.q[:], key.Primes[1])
	return s
}

// prepareWithADX prepares a Signer for the ADX path.
func prepareWithADX(key *rsa.PrivateKey) *Signer {
	s := prepareShared(key)
	s.adx = prepareADX(key)
	return s
}

// prepare prepares a Signer for the IFMA path.
func prepare(key *rsa.PrivateKey) *Signer {
	s := prepareShared(key)
	p, q := key.Primes[0], key.Primes[1]
	r := new(big.Int).Lsh(big.NewInt(1), limbs*limbBits)
	two52 := new(big.Int).Lsh(big.NewInt(1), limbBits)
	for h, prime := range []*big.Int{p, q} {
		setNat(&s.m[h], prime)
		inv := new(big.Int).ModInverse(new(big.Int).Mod(prime, two52), two52)
		s.k0[h] = new(big.Int).Sub(two52, inv).Uint64()
		setNat(&s.rr[h], new(big.Int).Mod(new(big.Int).Mul(r, r), prime))
	}
	setWords(s.p[:], p)
	setWords(s.twoP[:], new(big.Int).Lsh(p, 1))
	setNat(&s.qInv, new(big.Int).Mod(new(big.Int).Mul(key.Precomputed.Qinv, r), p))
	if useADX {
		s.checker = prepareADX(key)
		setWords(s.n[:], key.N)
	}
	return s
}

// setWords sets dst to x in little-endian 64-bit words; x must fit.
func setWords(dst []uint64, x *big.Int) {
	b := x.FillBytes(make([]byte, 8*len(dst)))
	for i := range dst {
		dst[i] = binary.BigEndian.Uint64(b[len(b)-8*(i+1):])
	}
}

func setNat(z *nat, x *big.Int) {
	var w [primeLen + 1]uint64
	setWords(w[:], x)
	fromWords(z[:limbs], w[:])
}

// digestInfo is the DER prefix PKCS #1 v1.5 puts before a SHA-256 digest.
var digestInfo = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

// SignSHA256 returns the RSASSA-PKCS1-v1_5 signature of a SHA-256 digest: the
// same 256 bytes rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest) returns.
func (s *Signer) SignSHA256(digest []byte) ([]byte, error) {
	if len(digest) != 32 {
		return nil, errors.New("rsa2048: digest is not 32 bytes")
	}
	c := encode(digest)
	var mq, h words
	if s.adx != nil {
		s.adx.crt(&c, &s.exp, &mq, &h)
	} else {
		s.crtIFMA(&c, &mq, &h)
	}

	sig := mulAdd(&h, (*words)(s.q[:primeLen]), &mq) // mq + h·q
	out := make([]byte, 256)
	for i, w := range sig {
		binary.BigEndian.PutUint64(out[256-8*(i+1):], w)
	}

	// Check the signature with the public key before it leaves.
	if !s.check(&sig, out, digest) {
		return nil, errors.New("rsa2048: signature failed its check")
	}
	return out, nil
}

// encode returns the PKCS #1 v1.5 encoding of a SHA-256 digest, the number
// that is signed, in little-endian words.
func encode(digest []byte) [2 * primeLen]uint64 {
	em := make([]byte, 256)
	em[1] = 1
	pad := 256 - len(digestInfo) - len(digest)
	for i := 2; i < pad-1; i++ {
		em[i] = 0xff
	}
	copy(em[pad:], digestInfo)
	copy(em[pad+len(digestInfo):], digest)
	var c [2 * primeLen]uint64
	for i := range c {
		c[i] = binary.BigEndian.Uint64(em[256-8*(i+1):])
	}
	return c
}

// mulAdd returns x·y + z, schoolbook: row i adds x[i]·y at word i.
func mulAdd(x, y, z *words) [2 * primeLen]uint64 {
	var r [2 * primeLen]uint64
	copy(r[:], z[:])
	for i := range primeLen {
		var c uint64
		for j := range primeLen {
			hi, lo := bits.Mul64(x[i], y[j])
			var cc uint64
			lo, cc = bits.Add64(lo, r[i+j], 0)
			hi += cc
			lo, cc = bits.Add64(lo, c, 0)
			r[i+j], c = lo, hi+cc
		}
		r[i+primeLen] = c
	}
	return r
}

// check reports whether sig (out in bytes) is a valid signature of digest
// under the public key: the check that keeps a faulty signature, from which
// the key could be computed, from leaving. crypto/rsa checks where there is
// no checker; that took 24–39 µs on the machines measured, an eighth to a
// tenth of a signature, much of it setting up the modulus again each time
// (docs/benchmarks.md).
//
// The checker does the same work in about 8 µs, and independently of
// what it checks: different instructions (64-bit MULX and carry chains,
// where the signature came from the AVX-512 vector unit), constants derived
// again from the key, and the encoding made again from the digest. It checks
// sig^e ≡ c modulo each of its primes, which is the check modulo n once the
// primes are shown to multiply to n (a 16-by-16-word product, on every
// call, since a fault in the checker's constants can come at any time);
// and it refuses a zero in Montgomery form, which a lost constant (R² mod
// m of zero) would make of both sides.
func (s *Signer) check(sig *[2 * primeLen]uint64, out, digest []byte) bool {
	a := s.checker
	if a == nil {
		return rsa.VerifyPKCS1v15(s.pub, crypto.SHA256, digest, out) == nil
	}
	c := encode(digest)
	var zero words
	return below(sig, &s.n) && mulAdd(&a.m[0], &a.m[1], &zero) == s.n && a.check(sig, &c, s.pub.E)
}

// below reports whether x < y.
func below(x, y *[2 * primeLen]uint64) bool {
	var borrow uint64
	for i := range x {
		_, borrow = bits.Sub64(x[i], y[i], borrow)
	}
	return borrow == 1
}

// crtIFMA is adxKey.crt on the IFMA path: it sets mq to c^dq mod q and h
// to (c^dp − mq)·q⁻¹ mod p.
func (s *Signer) crtIFMA(c *[2 * primeLen]uint64, mqOut, hOut *words) {
	var mp, mq [primeLen + 1]uint64
	s.decrypt(c, &mp, &mq)

	// CRT: sig = mq + q·((mp − mq)·q⁻¹ mod p). mq < q < 2p, so mp + 2p − mq
	// is positive and below 3p.
	var d [primeLen + 1]uint64
	var carry, borrow uint64
	for i := range d {
		d[i], carry = bits.Add64(mp[i], s.twoP[i], carry)
	}
	for i := range d {
		d[i], borrow = bits.Sub64(d[i], mq[i], borrow)
	}
	var dn, h nat
	fromWords(dn[:limbs], d[:])
	amm(&h, &dn, &s.qInv, &s.m[0], s.k0[0])
	var hw [primeLen + 1]uint64
	toWords(hw[:], h[:limbs])
	subIfAtLeast(hw[:], s.p[:])
	copy(mqOut[:], mq[:primeLen])
	copy(hOut[:], hw[:primeLen])
}

// decrypt sets mp to c^dp mod p and mq to c^dq mod q.
func (s *Signer) decrypt(c *[2 * primeLen]uint64, mp, mq *[primeLen + 1]uint64) {
	// c·R mod m = (c mod R)·R + (c div R)·R² mod m, from two products with R².
	var lo, hi pair
	var split [2 * limbs]uint64
	fromWords(split[:], c[:])
	for h := range 2 {
		copy(lo[h][:limbs], split[:limbs])
		copy(hi[h][:limbs], split[limbs:])
	}
	var x, y, cR pair
	amm2(&x, &lo, &s.rr, &s.m, &s.k0) // (c mod R)·R
	amm2(&y, &hi, &s.rr, &s.m, &s.k0) // (c div R)·R
	amm2(&y, &y, &s.rr, &s.m, &s.k0)  // (c div R)·R², below 2m
	for h := range 2 {                // below 4m
		var carry uint64
		for i := range limbs {
			v := x[h][i] + y[h][i] + carry
			cR[h][i] = v & mask52
			carry = v >> limbBits
		}
	}

	// table[i] = c^i·R mod m, each below 2m.
	var table [1 << window]pair
	var one pair
	one[0][0], one[1][0] = 1, 1
	amm2(&table[0], &one, &s.rr, &s.m, &s.k0)
	table[1] = cR
	for i := 2; i < len(table); i++ {
		amm2(&table[i], &table[i-1], &cR, &s.m, &s.k0)
	}

	var acc, t pair
	for bit := expBits - window; bit >= 0; bit -= window {
		idx := [2]uint64{windowAt(&s.exp[0], bit), windowAt(&s.exp[1], bit)}
		select2(&t, &table, &idx)
		if bit == expBits-window {
			acc = t
			continue
		}
		for range window {
			amm2(&acc, &acc, &acc, &s.m, &s.k0)
		}
		amm2(&acc, &acc, &t, &s.m, &s.k0)
	}
	amm2(&acc, &acc, &one, &s.m, &s.k0) // out of Montgomery form: at most m

	toWords(mp[:], acc[0][:limbs])
	toWords(mq[:], acc[1][:limbs])
	subIfAtLeast(mp[:], s.p[:])
	subIfAtLeast(mq[:], s.q[:])
}

// windowAt returns the exponent bits [bit, bit+5) of e.
func windowAt(e *[primeLen]uint64, bit int) uint64 {
	w, sh := bit/64, uint(bit%64)
	var v uint64
	if w < primeLen {
		v = e[w] >> sh
	}
	if sh > 64-window && w+1 < primeLen {
		v |= e[w+1] << (64 - sh)
	}
	return v & (1<<window - 1)
}
