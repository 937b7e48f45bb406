package rsa2048

import "testing"

func BenchmarkParts(b *testing.B) {
	requireSupported(b)
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
