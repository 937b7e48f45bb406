package rsa2048

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"testing"
)

func requireSupported(t testing.TB) {
	if !Supported() {
		t.Skip("this CPU has neither AVX-512 IFMA nor ADX; the signer is not used here")
	}
}

// signers returns a Signer for key on each path this CPU can run: a CPU with
// IFMA has ADX as well, so there both are tested.
func signers(t testing.TB, key *rsa.PrivateKey) map[string]*Signer {
	requireSupported(t)
	out := map[string]*Signer{}
	if useIFMA {
		out["ifma"] = prepare(key)
	}
	if useADX {
		out["adx"] = prepareWithADX(key)
	}
	return out
}

// testKeys are generated once: RSA key generation is slow.
var testKeys = func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 4)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
}()

func TestSignMatchesCryptoRSA(t *testing.T) {
	requireSupported(t)
	for ki, key := range testKeys {
		if s, err := New(key); err != nil || (s.adx == nil) != useIFMA {
			t.Fatalf("key %d: New = %v, %v: not the path this CPU should use", ki, s, err)
		}
		for path, s := range signers(t, key) {
			for i := range 50 {
				digest := sha256.Sum256(fmt.Appendf(nil, "message %d %d", ki, i))
				if i == 0 {
					digest = [32]byte{}
				}
				want, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.SignSHA256(digest[:])
				if err != nil {
					t.Fatalf("%s, key %d, message %d: %v", path, ki, i, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%s, key %d, message %d: signature differs from crypto/rsa's", path, ki, i)
				}
			}
		}
	}
}

// bigNat and natBig convert between nat and math/big for the tests.
func bigNat(x *big.Int) nat {
	var z nat
	setNat(&z, x)
	return z
}

func natBig(x *nat) *big.Int {
	var w [primeLen + 1]uint64
	toWords(w[:], x[:limbs])
	var b [8 * (primeLen + 1)]byte
	for i, v := range w {
		for j := range 8 {
			b[len(b)-1-8*i-j] = byte(v >> (8 * j))
		}
	}
	return new(big.Int).SetBytes(b[:])
}

// TestAMM holds amm and amm2 to x·y·R⁻¹ mod m below 2m, for operands up to
// the bounds the signer uses (below 4m) and at the edges (0, m−1, 4m−1).
func TestAMM(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	r := new(big.Int).Lsh(big.NewInt(1), limbs*limbBits)
	rInv := new(big.Int)
	for _, key := range testKeys[:2] {
		s := prepare(key)
		for h, m := range key.Primes {
			rInv.ModInverse(r, m)
			four := new(big.Int).Lsh(m, 2)
			edges := []*big.Int{big.NewInt(0), big.NewInt(1), new(big.Int).Sub(m, big.NewInt(1)), new(big.Int).Sub(four, big.NewInt(1))}
			for i := range 200 {
				x, y := randBelow(rng, four), randBelow(rng, four)
				if i < len(edges)*len(edges) {
					x, y = edges[i/len(edges)], edges[i%len(edges)]
				}
				want := new(big.Int).Mul(x, y)
				want.Mul(want, rInv).Mod(want, m)
				xn, yn := bigNat(x), bigNat(y)
				var z nat
				amm(&z, &xn, &yn, &s.m[h], s.k0[h])
				check := func(name string, z *nat) {
					got := natBig(z)
					if got.Cmp(new(big.Int).Lsh(m, 1)) >= 0 || new(big.Int).Mod(got, m).Cmp(want) != 0 {
						t.Fatalf("%s(%x, %x) = %x, want %x mod m, below 2m", name, x, y, got, want)
					}
				}
				check("amm", &z)
				if useIFMA {
					var zp, xp, yp pair
					xp[h], yp[h] = xn, yn
					amm2(&zp, &xp, &yp, &s.m, &s.k0)
					check("amm2", &zp[h])
					if zp[h] != z {
						t.Fatalf("amm2 and amm differ for %x·%x", x, y)
					}
				}
			}
		}
	}
}

func randBelow(rng *mrand.Rand, n *big.Int) *big.Int {
	b := make([]byte, (n.BitLen()+7)/8)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return new(big.Int).Mod(new(big.Int).SetBytes(b), n)
}

// TestSelect checks select2 (and selectEntry, its portable form) against a
// table of random limbs, for every pair of indices.
func TestSelect(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(3, 4))
	var table [1 << window]pair
	for i := range table {
		for h := range 2 {
			for j := range limbs {
				table[i][h][j] = rng.Uint64() & mask52
			}
		}
	}
	for i := range table {
		for k := range table {
			var z pair
			selectEntry(&z, &table, [2]uint64{uint64(i), uint64(k)})
			if z[0] != table[i][0] || z[1] != table[k][1] {
				t.Fatalf("selectEntry(%d, %d) is wrong", i, k)
			}
			if useIFMA {
				z = pair{}
				select2(&z, &table, &[2]uint64{uint64(i), uint64(k)})
				if z[0] != table[i][0] || z[1] != table[k][1] {
					t.Fatalf("select2(%d, %d) is wrong", i, k)
				}
			}
		}
	}
}

func TestNewRefusesOtherKeys(t *testing.T) {
	requireSupported(t)
	for _, bitLen := range []int{1024, 3072} {
		key, err := rsa.GenerateKey(rand.Reader, bitLen)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(key); err != ErrUnsupported {
			t.Errorf("%d-bit key: New = %v, want ErrUnsupported", bitLen, err)
		}
	}
}

// TestSignChecksItself: a signer whose exponent is wrong (as a fault would
// make it) returns an error, not the wrong signature.
func TestSignChecksItself(t *testing.T) {
	for half := range 2 {
		for path, s := range signers(t, testKeys[1]) {
			s.exp[half][3] ^= 1 << 17
			digest := sha256.Sum256([]byte("fault"))
			if sig, err := s.SignSHA256(digest[:]); err == nil {
				t.Fatalf("%s: a signer faulty modulo prime %d returned a signature: %x", path, half, sig)
			}
		}
	}
}

// TestCheckRefusesFaults: the check before a signature leaves refuses, on
// each path, what a fault would produce: a value right modulo one prime
// and wrong modulo the other (the one a single faulty signature leaks the
// key by), one bit off, and the signature plus n (right modulo n, but not a
// signature: a verifier refuses a value of n or more).
func TestCheckRefusesFaults(t *testing.T) {
	key := testKeys[2]
	p, q, n := key.Primes[0], key.Primes[1], key.N
	for path, s := range signers(t, key) {
		digest, sig := signFitting(t, s, n)
		if !checkBig(s, sig, digest) {
			t.Fatalf("%s: the check refuses a good signature", path)
		}
		for name, bad := range map[string]*big.Int{
			"right mod p, wrong mod q": new(big.Int).Mod(new(big.Int).Add(sig, p), n),
			"right mod q, wrong mod p": new(big.Int).Mod(new(big.Int).Add(sig, q), n),
			"one bit off":              new(big.Int).Xor(sig, new(big.Int).Lsh(big.NewInt(1), 700)),
			"plus n":                   new(big.Int).Add(sig, n),
		} {
			if checkBig(s, bad, digest) {
				t.Errorf("%s: the check accepts a signature %s", path, name)
			}
		}
	}
}

// TestCheckerStandsApart: on the IFMA path the check runs on a checker of
// its own, and refuses a faulty signature even when the checker's own
// constants are wrong: primes that do not multiply to the public modulus
// (here p and another prime, for a signature right modulo both and wrong
// modulo q), and R² mod q lost to zero, which would make both sides of its
// comparison zero.
func TestCheckerStandsApart(t *testing.T) {
	requireSupported(t)
	if !useIFMA || !useADX {
		t.Skip("the checker is used on the IFMA path of a CPU with ADX as well")
	}
	key := testKeys[3]
	p, q, n, e := key.Primes[0], key.Primes[1], key.N, big.NewInt(int64(key.E))
	if prepare(key).checker == nil {
		t.Fatal("the IFMA path has no checker of its own")
	}

	// Another prime r, and a checker for p and r.
	var r *big.Int
	for r == nil || new(big.Int).GCD(nil, nil, e, new(big.Int).Sub(r, big.NewInt(1))).Cmp(big.NewInt(1)) != 0 {
		var err error
		if r, err = rand.Prime(rand.Reader, 1024); err != nil {
			t.Fatal(err)
		}
	}
	other := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, r), E: key.E}, Primes: []*big.Int{p, r}}
	other.Precomputed.Qinv = new(big.Int).ModInverse(r, p)
	dr := new(big.Int).ModInverse(e, new(big.Int).Sub(r, big.NewInt(1)))

	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatal("no forged signature below n in 1000 messages")
		}
		s := prepare(key)
		digest := sha256.Sum256(fmt.Appendf(nil, "apart %d", i))
		good, err := s.SignSHA256(digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := new(big.Int).SetBytes(good)
		// forged ≡ sig (mod p), forged^e ≡ c (mod r): what a checker for p
		// and r would take for a good signature.
		cw := encode(digest[:])
		c := wordsBig(cw[:])
		atR := new(big.Int).Exp(c, dr, r)
		forged := crt(sig, p, atR, r)
		if forged.Cmp(n) >= 0 || new(big.Int).Mod(forged, q).Cmp(new(big.Int).Mod(sig, q)) == 0 {
			continue
		}
		s.checker = prepareADX(other)
		if !s.checker.check(wordsOf(forged), &cw, key.E) {
			t.Fatal("test set-up: the forged signature does not pass modulo p and r")
		}
		if checkBig(s, forged, digest[:]) {
			t.Error("a checker whose primes do not multiply to n accepted a signature wrong modulo q")
		}

		s = prepare(key)
		s.checker.rr[1] = words{}
		faulty := new(big.Int).Mod(new(big.Int).Add(sig, p), n) // right mod p, wrong mod q
		if checkBig(s, faulty, digest[:]) {
			t.Error("a checker that lost R² mod q accepted a signature wrong modulo q")
		}
		return
	}
}

// signFitting signs messages with s until one's signature plus n is below
// 2^2048, and returns its digest and signature.
func signFitting(t *testing.T, s *Signer, n *big.Int) ([]byte, *big.Int) {
	limit := new(big.Int).Lsh(big.NewInt(1), 2048)
	for i := range 1000 {
		digest := sha256.Sum256(fmt.Appendf(nil, "check %d", i))
		b, err := s.SignSHA256(digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := new(big.Int).SetBytes(b)
		if new(big.Int).Add(sig, n).Cmp(limit) < 0 {
			return digest[:], sig
		}
	}
	t.Fatal("no signature below 2^2048 - n in 1000 messages")
	return nil, nil
}

// checkBig runs s's check on sig, a number below 2^2048.
func checkBig(s *Signer, sig *big.Int, digest []byte) bool {
	return s.check(wordsOf(sig), sig.FillBytes(make([]byte, 256)), digest)
}

func wordsOf(x *big.Int) *[2 * primeLen]uint64 {
	var w [2 * primeLen]uint64
	setWords(w[:], x)
	return &w
}

// crt returns the x below a·b with x ≡ xa (mod a) and x ≡ xb (mod b).
func crt(xa, a, xb, b *big.Int) *big.Int {
	// x = xb + b·((xa − xb)·b⁻¹ mod a)
	h := new(big.Int).Sub(xa, xb)
	h.Mul(h, new(big.Int).ModInverse(b, a)).Mod(h, a)
	return h.Mul(h, b).Add(h, xb)
}

func TestSignRefusesBadDigest(t *testing.T) {
	requireSupported(t)
	s, err := New(testKeys[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SignSHA256(make([]byte, 31)); err == nil {
		t.Error("a 31-byte digest was signed")
	}
}

func BenchmarkSign(b *testing.B) {
	digest := sha256.Sum256([]byte("header.claims"))
	key := testKeys[0]
	b.Run("crypto-rsa", func(b *testing.B) {
		for b.Loop() {
			if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	if !Supported() {
		return
	}
	for path, s := range signers(b, key) {
		b.Run(path, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.SignSHA256(digest[:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The check a signature passes before it leaves, alone: crypto/rsa's,
	// which the ADX path uses, and the IFMA path's checker.
	s, err := New(key)
	if err != nil {
		b.Fatal(err)
	}
	out, err := s.SignSHA256(digest[:])
	if err != nil {
		b.Fatal(err)
	}
	if s.checker != nil {
		sig := wordsOf(new(big.Int).SetBytes(out))
		b.Run("check/checker", func(b *testing.B) {
			for b.Loop() {
				if !s.check(sig, out, digest[:]) {
					b.Fatal("check failed")
				}
			}
		})
	}
	b.Run("check/crypto-rsa", func(b *testing.B) {
		for b.Loop() {
			if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
