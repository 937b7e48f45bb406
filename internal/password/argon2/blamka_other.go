//go:build !amd64 || purego

package argon2

// useAVX2 is false: Key hands the work to x/crypto.
var useAVX2 = false

func compressAVX2(out, x, y, z *block, xor bool) {
	panic("argon2: no AVX2 compression on this platform")
}
