package rsa2048

import "math/bits"

// A nat is a number below 2^1040 in 20 little-endian limbs of 52 bits, the
// radix AVX-512 IFMA multiplies in. It has room for 24 limbs so that three
// 512-bit registers hold it; limbs 20 to 23 are always zero.
type nat [lanes]uint64

// A pair holds one number modulo p and one modulo q: the two halves of a
// CRT signature, computed side by side.
type pair [2]nat

const (
	limbBits = 52
	limbs    = 20 // 20 × 52 = 1040 bits, R = 2^1040
	lanes    = 24
	mask52   = 1<<limbBits - 1
)

// amm sets z to x·y·R⁻¹ mod m, not necessarily fully reduced ("almost
// Montgomery multiplication"): for x·y < 16m² the result is below 2m, which
// every caller keeps to. k0 is −m⁻¹ mod 2^52. amm2 computes the same limbs
// with the work arranged for the vector unit; the tests hold it to this.
func amm(z, x, y, m *nat, k0 uint64) {
	var acc [limbs + 1]uint64
	for i := range limbs {
		b := y[i]
		for j := range limbs {
			acc[j] += lo52(x[j], b)
		}
		t := (acc[0] * k0) & mask52
		for j := range limbs {
			acc[j] += lo52(m[j], t)
		}
		carry := acc[0] >> limbBits
		copy(acc[:], acc[1:])
		acc[0] += carry
		for j := range limbs {
			acc[j] += hi52(x[j], b) + hi52(m[j], t)
		}
	}
	normalize(z, acc[:limbs])
}

func lo52(a, b uint64) uint64 {
	_, lo := bits.Mul64(a, b)
	return lo & mask52
}

func hi52(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi<<(64-limbBits) | lo>>limbBits
}

// normalize carries each lane's bits above 52 into the next limb.
func normalize(z *nat, acc []uint64) {
	var carry uint64
	for i := range limbs {
		v := acc[i] + carry
		z[i] = v & mask52
		carry = v >> limbBits
	}
	for i := limbs; i < lanes; i++ {
		z[i] = 0
	}
}

// fromWords converts little-endian 64-bit words into 52-bit limbs, as many
// as dst holds; bits beyond the words read as zero.
func fromWords(dst []uint64, words []uint64) {
	for i := range dst {
		bit := i * limbBits
		w, s := bit/64, uint(bit%64)
		var v uint64
		if w < len(words) {
			v = words[w] >> s
		}
		if s > 64-limbBits && w+1 < len(words) {
			v |= words[w+1] << (64 - s)
		}
		dst[i] = v & mask52
	}
}

// toWords converts 52-bit limbs into little-endian 64-bit words, as many as
// dst holds.
func toWords(dst []uint64, limbs []uint64) {
	clear(dst)
	for i, l := range limbs {
		bit := i * limbBits
		w, s := bit/64, uint(bit%64)
		if w < len(dst) {
			dst[w] |= l << s
		}
		if s > 64-limbBits && w+1 < len(dst) {
			dst[w+1] |= l >> (64 - s)
		}
	}
}

// subIfAtLeast sets x to x − m if x ≥ m, in constant time. x and m are
// little-endian words of the same length.
func subIfAtLeast(x, m []uint64) {
	var d [17]uint64
	var borrow uint64
	for i := range x {
		d[i], borrow = bits.Sub64(x[i], m[i], borrow)
	}
	keep := -borrow // all ones when x < m
	for i := range x {
		x[i] = x[i]&keep | d[i]&^keep
	}
}

// equalMask returns all ones if a == b and zero otherwise, without a
// branch: the table lookups' selector.
func equalMask(a, b uint64) uint64 {
	d := a ^ b
	return (d|-d)>>63 - 1
}

// selectEntry sets z to table[idx] in constant time: every entry is read.
func selectEntry(z *pair, table *[1 << window]pair, idx [2]uint64) {
	*z = pair{}
	for i := range table {
		for h := range 2 {
			take := equalMask(uint64(i), idx[h])
			for j := range limbs {
				z[h][j] |= table[i][h][j] & take
			}
		}
	}
}
