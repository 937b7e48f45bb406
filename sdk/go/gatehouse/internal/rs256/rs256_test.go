package rs256

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// testKey is a key made for these tests only (testdata/testkey.pem), so
// the fuzz corpus can hold its signatures.
func testKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile("testdata/testkey.pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func needSupport(t testing.TB) {
	if !supported {
		t.Skip("this CPU or architecture has no Montgomery product here; New returns nil and callers use crypto/rsa")
	}
}

func fromWords(x *[words]uint64) *big.Int {
	var b [size]byte
	toBytes(&b, x)
	return new(big.Int).SetBytes(b[:])
}

func wordsOf(x *big.Int) *[words]uint64 {
	var z [words]uint64
	toWords(&z, x.FillBytes(make([]byte, size)))
	return &z
}

// The Montgomery product against math/big, for edge values and random
// ones, with z aliasing x and y as Verify uses it.
func TestMontMul(t *testing.T) {
	needSupport(t)
	rng := mrand.New(mrand.NewPCG(1, 2))
	keys := []*rsa.PublicKey{&testKey(t).PublicKey}
	for range 2 {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, &k.PublicKey)
	}
	// Moduli at the ends of the range too, where the accumulator's top
	// words and carries are at their largest or smallest.
	top := new(big.Int).Lsh(big.NewInt(1), 2048)
	for _, n := range []*big.Int{
		new(big.Int).Sub(top, big.NewInt(1)),
		new(big.Int).Add(new(big.Int).Sub(top, new(big.Int).Lsh(big.NewInt(1), 1024)), big.NewInt(1)),
		new(big.Int).Add(new(big.Int).Rsh(top, 1), big.NewInt(1)),
	} {
		keys = append(keys, &rsa.PublicKey{N: n, E: 65537})
	}
	for _, pub := range keys {
		k := New(pub)
		n := pub.N
		rInv := new(big.Int).ModInverse(new(big.Int).Lsh(big.NewInt(1), 2048), n)
		one := big.NewInt(1)
		nMinus1 := new(big.Int).Sub(n, one)
		values := []*big.Int{big.NewInt(0), one, big.NewInt(2), nMinus1, new(big.Int).Sub(n, big.NewInt(2)), new(big.Int).Rsh(n, 1),
			new(big.Int).Sub(n, new(big.Int).Lsh(one, 64)), new(big.Int).Sub(n, new(big.Int).Lsh(one, 1000))}
		for range 200 {
			var b [size]byte
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			values = append(values, new(big.Int).Mod(new(big.Int).SetBytes(b[:]), n))
		}
		for i, x := range values {
			y := values[(i*7+3)%len(values)]
			want := new(big.Int).Mul(x, y)
			want.Mul(want, rInv).Mod(want, n)
			var z [words]uint64
			montMul(&z, wordsOf(x), wordsOf(y), &k.n, k.k0)
			if fromWords(&z).Cmp(want) != 0 {
				t.Fatalf("montMul(%x, %x) = %x, want %x", x, y, fromWords(&z), want)
			}
			a := wordsOf(x)
			montMul(a, a, a, &k.n, k.k0)
			sq := new(big.Int).Mul(x, x)
			if sq.Mul(sq, rInv).Mod(sq, n); fromWords(a).Cmp(sq) != 0 {
				t.Fatalf("montMul(a, a, a) for %x = %x, want %x", x, fromWords(a), sq)
			}
		}
	}
}

// rawSign returns m^d mod n: a signature of whatever m encodes, to build
// signatures of encodings that are wrong in one place.
func rawSign(key *rsa.PrivateKey, m []byte) []byte {
	s := new(big.Int).Exp(new(big.Int).SetBytes(m), key.D, key.N)
	return s.FillBytes(make([]byte, size))
}

// Every verdict matches crypto/rsa's: for real signatures, for signatures
// with a bit flipped, for values at and above n, for other lengths, and for
// signatures of encodings that differ from the right one in one field.
func TestVerifyMatchesCryptoRSA(t *testing.T) {
	needSupport(t)
	key := testKey(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k := New(&key.PublicKey)
	digest := sha256.Sum256([]byte("a token's header and claims"))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	wrongDigest := digest
	wrongDigest[31] ^= 1
	n := key.N.FillBytes(make([]byte, size))
	good := append(append([]byte{}, encodedPrefix[:]...), digest[:]...)
	type verifyCase struct {
		sig    []byte
		digest [32]byte
		want   bool
	}
	cases := map[string]verifyCase{
		"the signature":            {sig, digest, true},
		"another digest":           {sig, wrongDigest, false},
		"another key's signature":  {must(rsa.SignPKCS1v15(nil, other, crypto.SHA256, digest[:])), digest, false},
		"n":                        {n, digest, false},
		"n − 1":                    {new(big.Int).Sub(key.N, big.NewInt(1)).FillBytes(make([]byte, size)), digest, false},
		"zero":                     {make([]byte, size), digest, false},
		"one":                      {big.NewInt(1).FillBytes(make([]byte, size)), digest, false},
		"all ones":                 {bytes.Repeat([]byte{0xff}, size), digest, false},
		"a byte short":             {sig[1:], digest, false},
		"a byte long":              {append([]byte{0}, sig...), digest, false},
		"empty":                    {nil, digest, false},
		"the right encoding, raw":  {rawSign(key, good), digest, true},
		"block type 2":             {rawSign(key, with(good, 1, 0x02)), digest, false},
		"a leading byte of 1":      {rawSign(key, with(good, 0, 0x01)), digest, false},
		"a padding byte of 0xfe":   {rawSign(key, with(good, 100, 0xfe)), digest, false},
		"no zero after padding":    {rawSign(key, with(good, 204, 0xff)), digest, false},
		"SHA-512/256's identifier": {rawSign(key, with(good, 223, 0x06)), digest, false},
		"DigestInfo length off":    {rawSign(key, with(good, 206, 0x30)), digest, false},
	}
	// A signature plus n is the same number modulo n, so only the bound
	// refuses it. It fits in 2048 bits for some digests: this key's n is
	// about 0.79·2²⁰⁴⁸, so about a quarter of its signatures are below
	// 2²⁰⁴⁸ − n.
	for i := 0; ; i++ {
		if i == 64 {
			t.Fatal("no signature plus n fits in 2048 bits")
		}
		d := sha256.Sum256([]byte(strconv.Itoa(i)))
		s := new(big.Int).SetBytes(must(rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])))
		if s.Add(s, key.N).BitLen() <= 2048 {
			cases["a signature plus n"] = verifyCase{s.FillBytes(make([]byte, size)), d, false}
			break
		}
	}
	for i := 0; i < 8*size; i += 61 {
		flipped := append([]byte{}, sig...)
		flipped[i/8] ^= 1 << (i % 8)
		cases["bit "+strconv.Itoa(i)+" flipped"] = verifyCase{flipped, digest, false}
	}
	for name, c := range cases {
		got := k.Verify(&c.digest, c.sig)
		std := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, c.digest[:], c.sig) == nil
		if got != c.want || std != c.want {
			t.Errorf("%s: Verify = %v, crypto/rsa = %v, want %v", name, got, std, c.want)
		}
	}
}

// with returns a copy of b with byte i set to v.
func with(b []byte, i int, v byte) []byte {
	c := append([]byte{}, b...)
	c[i] = v
	return c
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// Random keys and digests: every signature verifies, and no other digest.
func TestVerifyRandomKeys(t *testing.T) {
	needSupport(t)
	for range 4 {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		k := New(&key.PublicKey)
		for range 8 {
			var digest [32]byte
			rand.Read(digest[:])
			sig := must(rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:]))
			if !k.Verify(&digest, sig) {
				t.Fatalf("a signature by %x did not verify", key.N)
			}
			digest[0] ^= 0x80
			if k.Verify(&digest, sig) {
				t.Fatalf("a signature verified for another digest")
			}
		}
	}
}

// New declines the keys it does not handle, so the caller uses crypto/rsa.
func TestNewDeclines(t *testing.T) {
	key := testKey(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	large, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		t.Fatal(err)
	}
	for name, pub := range map[string]*rsa.PublicKey{
		"1024 bits":       &small.PublicKey,
		"3072 bits":       &large.PublicKey,
		"exponent 3":      {N: key.N, E: 3},
		"an even modulus": {N: new(big.Int).Add(key.N, big.NewInt(1)), E: 65537},
		"no modulus":      {E: 65537},
	} {
		if New(pub) != nil {
			t.Errorf("New took a key with %s", name)
		}
	}
	if supported && New(&key.PublicKey) == nil {
		t.Error("New declined a 2048-bit key with exponent 65537 on a CPU with ADX and BMI2")
	}
	defer func(s bool) { supported = s }(supported)
	supported = false
	if New(&key.PublicKey) != nil {
		t.Error("New returned a key where the CPU lacks the instructions")
	}
}

// FuzzVerify: whatever the signature and digest, the verdict is crypto/rsa's.
func FuzzVerify(f *testing.F) {
	key := testKey(f)
	if !supported {
		f.Skip("no Montgomery product on this CPU")
	}
	k := New(&key.PublicKey)
	digest := sha256.Sum256([]byte("fuzz"))
	f.Add(must(rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])), digest[:])
	f.Add(key.N.Bytes(), digest[:])
	f.Fuzz(func(t *testing.T, sig, d []byte) {
		if len(d) != 32 {
			return
		}
		digest := [32]byte(d)
		got := k.Verify(&digest, sig)
		want := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, d, sig) == nil
		if got != want {
			t.Fatalf("Verify = %v, crypto/rsa = %v", got, want)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	needSupport(b)
	key := testKey(b)
	digest := sha256.Sum256([]byte("bench"))
	sig := must(rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:]))
	k := New(&key.PublicKey)
	b.Run("rs256", func(b *testing.B) {
		for b.Loop() {
			if !k.Verify(&digest, sig) {
				b.Fatal("did not verify")
			}
		}
	})
	b.Run("crypto-rsa", func(b *testing.B) {
		for b.Loop() {
			if rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], sig) != nil {
				b.Fatal("did not verify")
			}
		}
	})
	b.Run("montMul", func(b *testing.B) {
		a := k.rr
		for b.Loop() {
			montMul(&a, &a, &a, &k.n, k.k0)
		}
	})
}
