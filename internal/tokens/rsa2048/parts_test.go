package rsa2048

import "testing"

func BenchmarkParts(b *testing.B) {
	if useIFMA {
		s := prepare(testKeys[0])
		var x pair
		x[0][0], x[1][0] = 12345, 678
		b.Run("amm2", func(b *testing.B) {
			for b.Loop() {
				amm2(&x, &x, &x, &s.m, &s.k0)
			}
		})
		b.Run("select", func(b *testing.B) {
			var table [32]pair
			for b.Loop() {
				select2(&x, &table, &[2]uint64{3, 7})
			}
		})
	}
	if useADX {
		a := prepareADX(testKeys[0])
		var x words
		x[0] = 12345
		b.Run("montMul", func(b *testing.B) {
			for b.Loop() {
				montMul(&x, &x, &x, &a.m[0], a.k0[0])
			}
		})
		b.Run("montSqr", func(b *testing.B) {
			for b.Loop() {
				montSqr(&x, &x, &a.m[0], a.k0[0])
			}
		})
		b.Run("select16", func(b *testing.B) {
			var table [32]words
			for b.Loop() {
				select16(&x, &table, 7)
			}
		})
	}
}
