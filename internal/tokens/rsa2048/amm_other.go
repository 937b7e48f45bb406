//go:build !amd64 || purego

package rsa2048

const (
	useIFMA = false
	useADX  = false
)

func amm2(z, x, y, m *pair, k0 *[2]uint64) {
	panic("rsa2048: amm2 without AVX-512 IFMA")
}

func select2(z *pair, table *[1 << window]pair, idx *[2]uint64) {
	selectEntry(z, table, *idx)
}

func montMul(z, x, y, m *words, k0 uint64) {
	panic("rsa2048: montMul without ADX")
}

func montSqr(z, x, m *words, k0 uint64) {
	panic("rsa2048: montSqr without ADX")
}

func select16(z *words, table *[1 << window]words, idx uint64) {
	selectWords(z, table, idx)
}
