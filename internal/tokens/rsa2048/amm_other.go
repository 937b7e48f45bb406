//go:build !amd64 || purego

package rsa2048

const supported = false

func amm2(z, x, y, m *pair, k0 *[2]uint64) {
	panic("rsa2048: amm2 without AVX-512 IFMA")
}

func select2(z *pair, table *[1 << window]pair, idx *[2]uint64) {
	selectEntry(z, table, *idx)
}
