//go:build amd64 && !purego

package argon2

import "golang.org/x/sys/cpu"

// useAVX2 reports whether Key computes here rather than in x/crypto.
var useAVX2 = cpu.X86.HasAVX2

// compressAVX2 sets out to G(x, y) of RFC 9106, 3.5, or XORs G(x, y) into
// out when xor is set (passes after the first). y may be out; z is
// scratch.
//
//go:noescape
func compressAVX2(out, x, y, z *block, xor bool)
