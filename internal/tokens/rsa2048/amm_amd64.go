//go:build !purego

package rsa2048

import "golang.org/x/sys/cpu"

// supported reports whether this CPU has the AVX-512 instructions amm2 uses.
var supported = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512IFMA

//go:noescape
func amm2(z, x, y, m *pair, k0 *[2]uint64)

//go:noescape
func select2(z *pair, table *[1 << window]pair, idx *[2]uint64)
