package rsa2048

import (
	"bytes"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestAssemblyIsGenerated: mont_amd64.s is what gen_mont.go writes, so a
// change to one without the other (go generate) fails here.
func TestAssemblyIsGenerated(t *testing.T) {
	out := filepath.Join(t.TempDir(), "mont_amd64.s")
	cmd := exec.Command("go", "run", "gen_mont.go", "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run gen_mont.go: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("mont_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("mont_amd64.s differs from gen_mont.go's output: run go generate ./internal/tokens/rsa2048")
	}
}

// wordsBig converts little-endian 64-bit words to math/big.
func wordsBig(x []uint64) *big.Int {
	b := make([]byte, 8*len(x))
	for i, v := range x {
		for j := range 8 {
			b[len(b)-1-8*i-j] = byte(v >> (8 * j))
		}
	}
	return new(big.Int).SetBytes(b)
}

func bigWords(x *big.Int) words {
	var w words
	setWords(w[:], x)
	return w
}

// TestMontMul holds montMul to x·y·2^-1024 mod m, fully reduced, for y below
// m and x below m or anywhere below 2^1024 (as the signer's first products
// use it), at the edges, and with z the same as x or y.
func TestMontMul(t *testing.T) {
	if !useADX {
		t.Skip("this CPU has no ADX; montMul is not used here")
	}
	rng := mrand.New(mrand.NewPCG(5, 6))
	r := new(big.Int).Lsh(big.NewInt(1), 64*primeLen)
	top := new(big.Int).Sub(r, big.NewInt(1))
	for _, key := range testKeys {
		a := prepareADX(key)
		for h, m := range key.Primes {
			rInv := new(big.Int).ModInverse(r, m)
			mm1 := new(big.Int).Sub(m, big.NewInt(1))
			edges := []*big.Int{big.NewInt(0), big.NewInt(1), mm1}
			for i := range 300 {
				x, y := randBelow(rng, m), randBelow(rng, m)
				switch {
				case i < 9:
					x, y = edges[i/3], edges[i%3]
				case i < 12:
					x, y = top, edges[i-9]
				case i%3 == 0:
					x = randBelow(rng, r)
				}
				want := new(big.Int).Mul(x, y)
				want.Mul(want, rInv).Mod(want, m)
				xw, yw := bigWords(x), bigWords(y)
				var z words
				montMul(&z, &xw, &yw, &a.m[h], a.k0[h])
				if got := wordsBig(z[:]); got.Cmp(want) != 0 {
					t.Fatalf("montMul(%x, %x) = %x, want %x", x, y, got, want)
				}
				zx, zy := xw, yw
				montMul(&zx, &zx, &yw, &a.m[h], a.k0[h])
				montMul(&zy, &xw, &zy, &a.m[h], a.k0[h])
				if zx != z || zy != z {
					t.Fatalf("montMul(%x, %x) into its own operand differs", x, y)
				}
			}
		}
	}
}

// TestMontSqr holds montSqr to x²·2^-1024 mod m, fully reduced, for x below
// m: at the edges, at random, with every word at its largest where that is
// below m, and in place, as the exponentiation squares.
func TestMontSqr(t *testing.T) {
	if !useADX {
		t.Skip("this CPU has no ADX; montSqr is not used here")
	}
	rng := mrand.New(mrand.NewPCG(11, 12))
	r := new(big.Int).Lsh(big.NewInt(1), 64*primeLen)
	for _, key := range testKeys {
		a := prepareADX(key)
		for h, m := range key.Primes {
			rInv := new(big.Int).ModInverse(r, m)
			// All ones in every word below the top one, which is m's less one.
			low := uint(64 * (primeLen - 1))
			ones := new(big.Int).Lsh(new(big.Int).Rsh(m, low), low)
			ones.Sub(ones, big.NewInt(1))
			edges := []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(2), new(big.Int).Sub(m, big.NewInt(1)), new(big.Int).Sub(m, big.NewInt(2)), ones}
			for i := range 500 {
				x := randBelow(rng, m)
				if i < len(edges) {
					x = edges[i]
				}
				want := new(big.Int).Mul(x, x)
				want.Mul(want, rInv).Mod(want, m)
				xw := bigWords(x)
				var z words
				montSqr(&z, &xw, &a.m[h], a.k0[h])
				if got := wordsBig(z[:]); got.Cmp(want) != 0 {
					t.Fatalf("montSqr(%x) = %x, want %x", x, got, want)
				}
				montSqr(&xw, &xw, &a.m[h], a.k0[h])
				if xw != z {
					t.Fatalf("montSqr(%x) in place differs", x)
				}
			}
		}
	}
}

// TestModAddSub checks modAdd and modSub against math/big for operands below
// m, at the edges and at random.
func TestModAddSub(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(7, 8))
	for _, key := range testKeys[:2] {
		for _, m := range key.Primes {
			mw := bigWords(m)
			mm1 := new(big.Int).Sub(m, big.NewInt(1))
			edges := []*big.Int{big.NewInt(0), big.NewInt(1), mm1}
			for i := range 200 {
				x, y := randBelow(rng, m), randBelow(rng, m)
				if i < 9 {
					x, y = edges[i/3], edges[i%3]
				}
				xw, yw := bigWords(x), bigWords(y)
				var z words
				modAdd(&z, &xw, &yw, &mw)
				if want := new(big.Int).Add(x, y); wordsBig(z[:]).Cmp(want.Mod(want, m)) != 0 {
					t.Fatalf("modAdd(%x, %x) = %x, want %x", x, y, wordsBig(z[:]), want)
				}
				modSub(&z, &xw, &yw, &mw)
				if want := new(big.Int).Sub(x, y); wordsBig(z[:]).Cmp(want.Mod(want, m)) != 0 {
					t.Fatalf("modSub(%x, %x) = %x, want %x", x, y, wordsBig(z[:]), want)
				}
			}
		}
	}
}

func TestSelectWords(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(9, 10))
	var table [1 << window]words
	for i := range table {
		for j := range table[i] {
			table[i][j] = rng.Uint64()
		}
	}
	for i := range table {
		var z words
		selectWords(&z, &table, uint64(i))
		if z != table[i] {
			t.Fatalf("selectWords(%d) is wrong", i)
		}
		if useADX {
			z = words{}
			select16(&z, &table, uint64(i))
			if z != table[i] {
				t.Fatalf("select16(%d) is wrong", i)
			}
		}
	}
}
