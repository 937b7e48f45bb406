//go:build amd64 && !purego

package rs256

//go:generate go run gen.go

// montMul sets z = x·y·2⁻²⁰⁴⁸ mod n, for x, y < n, n odd and k0 = −n⁻¹
// mod 2⁶⁴ (mont_amd64.s). It needs ADX and BMI2.
//
//go:noescape
func montMul(z, x, y, n *[words]uint64, k0 uint64)

func cpuid(leaf, sub uint32) (a, b, c, d uint32)

// supported reports whether this CPU has the instructions montMul uses:
// BMI2's MULX and ADX's ADCX and ADOX (leaf 7, EBX bits 8 and 19).
var supported = func() bool {
	if max, _, _, _ := cpuid(0, 0); max < 7 {
		return false
	}
	_, b, _, _ := cpuid(7, 0)
	return b&(1<<8) != 0 && b&(1<<19) != 0
}()
