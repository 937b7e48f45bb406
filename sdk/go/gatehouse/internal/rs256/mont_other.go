//go:build !amd64 || purego

package rs256

// supported is false: there is no Montgomery product for this
// architecture, and New returns nil so callers use crypto/rsa.
var supported = false

func montMul(z, x, y, n *[words]uint64, k0 uint64) {
	panic("rs256: no Montgomery product on this architecture")
}
