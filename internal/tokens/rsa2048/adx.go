package rsa2048

import (
	"crypto/rsa"
	"math/big"
	"math/bits"
)

//go:generate go run gen_mont.go

// The ADX path, for amd64 CPUs without AVX-512 IFMA but with MULX, ADCX and
// ADOX (AMD Zen 1 to 3, Intel from Broadwell): the same CRT exponentiation
// as the IFMA path, in 64-bit words, one half after the other, each product
// a montMul or montSqr (mont_amd64.s, written by gen_mont.go). Every
// intermediate value is kept fully reduced (below its modulus), which the
// final subtraction in both guarantees.

// words is a number below 2^1024 in little-endian 64-bit words.
type words [primeLen]uint64

// adxKey holds the ADX path's constants for p (index 0) and q (index 1).
type adxKey struct {
	m    [2]words
	k0   [2]uint64 // −m⁻¹ mod 2^64
	rr   [2]words  // R² mod m, R = 2^1024
	qInv words     // q⁻¹·R mod p: one montMul by it multiplies by q⁻¹
}

func prepareADX(key *rsa.PrivateKey) *adxKey {
	a := new(adxKey)
	r := new(big.Int).Lsh(big.NewInt(1), 64*primeLen)
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	for h, prime := range key.Primes {
		setWords(a.m[h][:], prime)
		inv := new(big.Int).ModInverse(new(big.Int).Mod(prime, two64), two64)
		a.k0[h] = new(big.Int).Sub(two64, inv).Uint64()
		setWords(a.rr[h][:], new(big.Int).Mod(new(big.Int).Mul(r, r), prime))
	}
	setWords(a.qInv[:], new(big.Int).Mod(new(big.Int).Mul(key.Precomputed.Qinv, r), key.Primes[0]))
	return a
}

// crt sets mq to c^dq mod q and h to (c^dp − mq)·q⁻¹ mod p, from which the
// signature is mq + h·q.
func (a *adxKey) crt(c *[2 * primeLen]uint64, exp *[2][primeLen]uint64, mq, h *words) {
	var mp, mqp, d words
	a.exp(&mp, c, &exp[0], 0)
	a.exp(mq, c, &exp[1], 1)
	mqp = *mq // below q < 2p: one subtraction brings it below p
	subIfAtLeast(mqp[:], a.m[0][:])
	modSub(&d, &mp, &mqp, &a.m[0])
	montMul(h, &d, &a.qInv, &a.m[0], a.k0[0])
}

// toMontgomery returns c·R mod m for half h, for a c below 2^2048.
func (a *adxKey) toMontgomery(c *[2 * primeLen]uint64, h int) words {
	m, k0, rr := &a.m[h], a.k0[h], &a.rr[h]
	// c·R mod m = (c mod R)·R + (c div R)·R² mod m.
	var lo, hi, cR words
	copy(lo[:], c[:primeLen])
	copy(hi[:], c[primeLen:])
	montMul(&lo, &lo, rr, m, k0)
	montMul(&hi, &hi, rr, m, k0)
	montMul(&hi, &hi, rr, m, k0)
	modAdd(&cR, &lo, &hi, m)
	return cR
}

// check reports whether sig^e ≡ c modulo p and modulo q, for Signer.check,
// and whether c's Montgomery form is not zero in either. Every value here
// is fully reduced, so the two sides can be compared as they are. The
// exponent e is public: the loop may branch on its bits.
func (a *adxKey) check(sig, c *[2 * primeLen]uint64, e int) bool {
	for h := range 2 {
		m, k0 := &a.m[h], a.k0[h]
		sR := a.toMontgomery(sig, h)
		acc := sR
		for bit := bits.Len(uint(e)) - 2; bit >= 0; bit-- {
			montSqr(&acc, &acc, m, k0)
			if e>>bit&1 == 1 {
				montMul(&acc, &acc, &sR, m, k0)
			}
		}
		cR := a.toMontgomery(c, h)
		if cR == (words{}) || acc != cR {
			return false
		}
	}
	return true
}

// exp sets z to c^e mod m for half h, with fixed 5-bit windows.
func (a *adxKey) exp(z *words, c *[2 * primeLen]uint64, e *[primeLen]uint64, h int) {
	m, k0, rr := &a.m[h], a.k0[h], &a.rr[h]
	cR := a.toMontgomery(c, h)

	// table[i] = c^i·R mod m.
	var table [1 << window]words
	var one words
	one[0] = 1
	montMul(&table[0], &one, rr, m, k0)
	table[1] = cR
	for i := 2; i < len(table); i++ {
		montMul(&table[i], &table[i-1], &cR, m, k0)
	}

	var acc, t words
	for bit := expBits - window; bit >= 0; bit -= window {
		select16(&t, &table, windowAt(e, bit))
		if bit == expBits-window {
			acc = t
			continue
		}
		for range window {
			montSqr(&acc, &acc, m, k0)
		}
		montMul(&acc, &acc, &t, m, k0)
	}
	montMul(z, &acc, &one, m, k0) // out of Montgomery form
}

// modAdd sets z to a + b mod m, for a and b below m, in constant time.
func modAdd(z, a, b, m *words) {
	var sum, mw [primeLen + 1]uint64
	for i := range z {
		sum[i], sum[primeLen] = bits.Add64(a[i], b[i], sum[primeLen])
	}
	copy(mw[:], m[:])
	subIfAtLeast(sum[:], mw[:])
	copy(z[:], sum[:primeLen])
}

// modSub sets z to a − b mod m, for a and b below m, in constant time.
func modSub(z, a, b, m *words) {
	var d words
	var borrow, carry uint64
	for i := range d {
		d[i], borrow = bits.Sub64(a[i], b[i], borrow)
	}
	add := -borrow // m is added back where a < b
	for i := range z {
		z[i], carry = bits.Add64(d[i], m[i]&add, carry)
	}
}

// selectWords sets z to table[idx] in constant time: every entry is read.
// select16 computes the same with AVX2; the tests hold it to this.
func selectWords(z *words, table *[1 << window]words, idx uint64) {
	*z = words{}
	for i := range table {
		take := equalMask(uint64(i), idx)
		for j := range z {
			z[j] |= table[i][j] & take
		}
	}
}
