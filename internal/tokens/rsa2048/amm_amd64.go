//go:build !purego

package rsa2048

import "golang.org/x/sys/cpu"

// useIFMA reports whether this CPU has the AVX-512 instructions amm2 uses.
var useIFMA = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512IFMA

// useADX reports whether this CPU has the MULX, ADCX and ADOX instructions
// montMul uses, and the AVX2 select16 uses; the signer takes that path where
// IFMA is missing.
var useADX = cpu.X86.HasADX && cpu.X86.HasBMI2 && cpu.X86.HasAVX2

//go:noescape
func amm2(z, x, y, m *pair, k0 *[2]uint64)

//go:noescape
func select2(z *pair, table *[1 << window]pair, idx *[2]uint64)

//go:noescape
func montMul(z, x, y, m *words, k0 uint64)

//go:noescape
func montSqr(z, x, m *words, k0 uint64)

//go:noescape
func select16(z *words, table *[1 << window]words, idx uint64)
