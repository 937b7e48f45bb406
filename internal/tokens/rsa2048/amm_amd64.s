//go:build !purego

#include "textflag.h"

// DIGIT computes one half's reduction digit t. off is the half's offset in
// a pair, s its lowest limb (a general register), k0 its −m⁻¹ mod 2^52, tb
// the register t is broadcast into: s += lo(x0·y[i]); t = s·k0 mod 2^52;
// s += lo(m0·t), a multiple of 2^52; then s = s/2^52 + hi(x0·y[i]) +
// hi(m0·t). BX, SI and CX point at y[i], x and m; R10 holds 2^52−1; AX, DX,
// R14 and R15 are scratch.
#define DIGIT(off, s, k0, tb) \
	MOVQ off(BX), DX; \
	MULXQ off(SI), AX, R14; \
	MOVQ AX, R15; \
	ANDQ R10, R15; \
	ADDQ R15, s; \
	SHRQ $52, R14, AX; \
	MOVQ s, DX; \
	IMULQ k0, DX; \
	ANDQ R10, DX; \
	VPBROADCASTQ DX, tb; \
	MULXQ off(CX), R15, R14; \
	MOVQ R15, DX; \
	ANDQ R10, DX; \
	ADDQ DX, s; \
	SHRQ $52, s; \
	SHRQ $52, R14, R15; \
	ADDQ R15, s; \
	ADDQ AX, s

// SHIFT moves the accumulator in a, b, c down one 64-bit lane: lane 0 of
// a is dropped and a zero (Z31) comes in at the top of c.
#define SHIFT(a, b, c) \
	VALIGNQ $1, a, b, a; \
	VALIGNQ $1, b, c, b; \
	VALIGNQ $1, c, Z31, c

// func amm2(z, x, y, m *pair, k0 *[2]uint64)
//
// Two almost Montgomery multiplications at once, z[h] = x[h]·y[h]·2^-1040
// mod m[h] for h = 0, 1, with the same result as amm in nat.go. Each number
// is three 512-bit registers of 52-bit limbs.
//
// What limits the speed is the chain from one digit of the reduction to the
// next, so the work is split to keep that chain short:
//   - The x·y[i] terms and the m·t terms go to two accumulators, U and V,
//     each shifted down one limb a step; only their sum matters.
//   - The lowest limb, the one the next digit t is computed from, is kept
//     in a general register (s), where its products with y[i] and t are
//     computed with MULX; the vectors' lane 0 is dropped at each shift and
//     never read. s takes lane 1 of U and V before the shift.
//   - The two halves are independent, so one half's work fills the other's
//     waits.
//
// Registers, half 0 / half 1:
//	x: Z0–Z2 / Z16–Z18; m: Z3–Z5 / Z19–Z21
//	U: Z6–Z8 / Z22–Z24; V: Z12–Z14 / Z28–Z30
//	y[i] broadcast: Z9 / Z25; t broadcast: Z10 / Z26; zero: Z31
//	s: R12 / R13; k0: R8 / R9; 2^52−1: R10
// z is written only after the loop, so it may be x or y.
TEXT ·amm2(SB), NOSPLIT, $0-40
	MOVQ z+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), BX
	MOVQ m+24(FP), CX
	MOVQ k0+32(FP), DX
	MOVQ 0(DX), R8
	MOVQ 8(DX), R9
	MOVQ $0xfffffffffffff, R10

	VMOVDQU64 0(SI), Z0
	VMOVDQU64 64(SI), Z1
	VMOVDQU64 128(SI), Z2
	VMOVDQU64 192(SI), Z16
	VMOVDQU64 256(SI), Z17
	VMOVDQU64 320(SI), Z18
	VMOVDQU64 0(CX), Z3
	VMOVDQU64 64(CX), Z4
	VMOVDQU64 128(CX), Z5
	VMOVDQU64 192(CX), Z19
	VMOVDQU64 256(CX), Z20
	VMOVDQU64 320(CX), Z21
	VPXORQ Z6, Z6, Z6
	VPXORQ Z7, Z7, Z7
	VPXORQ Z8, Z8, Z8
	VPXORQ Z12, Z12, Z12
	VPXORQ Z13, Z13, Z13
	VPXORQ Z14, Z14, Z14
	VPXORQ Z22, Z22, Z22
	VPXORQ Z23, Z23, Z23
	VPXORQ Z24, Z24, Z24
	VPXORQ Z28, Z28, Z28
	VPXORQ Z29, Z29, Z29
	VPXORQ Z30, Z30, Z30
	VPXORQ Z31, Z31, Z31
	XORQ R12, R12
	XORQ R13, R13

	MOVQ $20, R11

loop:
	VPBROADCASTQ 0(BX), Z9
	VPBROADCASTQ 192(BX), Z25
	VPMADD52LUQ Z9, Z0, Z6
	VPMADD52LUQ Z25, Z16, Z22
	VPMADD52LUQ Z9, Z1, Z7
	VPMADD52LUQ Z25, Z17, Z23
	VPMADD52LUQ Z9, Z2, Z8
	VPMADD52LUQ Z25, Z18, Z24

	DIGIT(0, R12, R8, Z10)
	DIGIT(192, R13, R9, Z26)

	// V += lo(m·t)
	VPMADD52LUQ Z10, Z3, Z12
	VPMADD52LUQ Z26, Z19, Z28
	VPMADD52LUQ Z10, Z4, Z13
	VPMADD52LUQ Z26, Z20, Z29
	VPMADD52LUQ Z10, Z5, Z14
	VPMADD52LUQ Z26, Z21, Z30

	// s += lane 1 of U and V: the next lowest limb.
	VPEXTRQ $1, X6, AX
	VPEXTRQ $1, X12, DX
	ADDQ AX, R12
	ADDQ DX, R12
	VPEXTRQ $1, X22, AX
	VPEXTRQ $1, X28, DX
	ADDQ AX, R13
	ADDQ DX, R13

	// Shift U and V down one limb.
	SHIFT(Z6, Z7, Z8)
	SHIFT(Z22, Z23, Z24)
	SHIFT(Z12, Z13, Z14)
	SHIFT(Z28, Z29, Z30)

	// U += hi(x·y[i]), V += hi(m·t), one limb lower than their products.
	VPMADD52HUQ Z9, Z0, Z6
	VPMADD52HUQ Z25, Z16, Z22
	VPMADD52HUQ Z10, Z3, Z12
	VPMADD52HUQ Z26, Z19, Z28
	VPMADD52HUQ Z9, Z1, Z7
	VPMADD52HUQ Z25, Z17, Z23
	VPMADD52HUQ Z10, Z4, Z13
	VPMADD52HUQ Z26, Z20, Z29
	VPMADD52HUQ Z9, Z2, Z8
	VPMADD52HUQ Z25, Z18, Z24
	VPMADD52HUQ Z10, Z5, Z14
	VPMADD52HUQ Z26, Z21, Z30

	ADDQ $8, BX
	DECQ R11
	JNZ loop

	VPADDQ Z12, Z6, Z6
	VPADDQ Z13, Z7, Z7
	VPADDQ Z14, Z8, Z8
	VPADDQ Z28, Z22, Z22
	VPADDQ Z29, Z23, Z23
	VPADDQ Z30, Z24, Z24
	VMOVDQU64 Z6, 0(DI)
	VMOVDQU64 Z7, 64(DI)
	VMOVDQU64 Z8, 128(DI)
	VMOVDQU64 Z22, 192(DI)
	VMOVDQU64 Z23, 256(DI)
	VMOVDQU64 Z24, 320(DI)
	VZEROUPPER
	MOVQ R12, 0(DI)
	MOVQ R13, 192(DI)

	// Carry each lane's bits above 52 into the next limb, both halves.
	MOVQ $2, R13

half:
	XORQ AX, AX
	MOVQ $20, R11

limb:
	MOVQ 0(DI), DX
	ADDQ AX, DX
	MOVQ DX, AX
	SHRQ $52, AX
	ANDQ R10, DX
	MOVQ DX, 0(DI)
	ADDQ $8, DI
	DECQ R11
	JNZ limb

	ADDQ $32, DI
	DECQ R13
	JNZ half
	RET

// func select2(z *pair, table *[32]pair, idx *[2]uint64)
//
// z[h] = table[idx[h]][h] for h = 0, 1, reading every entry whatever idx is:
// each entry is loaded and ORed in under a mask that is all ones for the
// wanted entry and all zeros for the others.
TEXT ·select2(SB), NOSPLIT, $0-24
	MOVQ z+0(FP), DI
	MOVQ table+8(FP), SI
	MOVQ idx+16(FP), DX
	VPBROADCASTQ 0(DX), Z28
	VPBROADCASTQ 8(DX), Z29
	VPXORQ Z30, Z30, Z30
	MOVQ $1, AX
	VPBROADCASTQ AX, Z27
	VPXORQ Z0, Z0, Z0
	VPXORQ Z1, Z1, Z1
	VPXORQ Z2, Z2, Z2
	VPXORQ Z3, Z3, Z3
	VPXORQ Z4, Z4, Z4
	VPXORQ Z5, Z5, Z5
	MOVQ $32, CX

entry:
	VPCMPEQQ Z30, Z28, K1
	VPCMPEQQ Z30, Z29, K2
	VMOVDQU64 0(SI), Z10
	VMOVDQU64 64(SI), Z11
	VMOVDQU64 128(SI), Z12
	VMOVDQU64 192(SI), Z13
	VMOVDQU64 256(SI), Z14
	VMOVDQU64 320(SI), Z15
	VPORQ Z10, Z0, K1, Z0
	VPORQ Z11, Z1, K1, Z1
	VPORQ Z12, Z2, K1, Z2
	VPORQ Z13, Z3, K2, Z3
	VPORQ Z14, Z4, K2, Z4
	VPORQ Z15, Z5, K2, Z5
	VPADDQ Z27, Z30, Z30
	ADDQ $384, SI
	DECQ CX
	JNZ entry

	VMOVDQU64 Z0, 0(DI)
	VMOVDQU64 Z1, 64(DI)
	VMOVDQU64 Z2, 128(DI)
	VMOVDQU64 Z3, 192(DI)
	VMOVDQU64 Z4, 256(DI)
	VMOVDQU64 Z5, 320(DI)
	VZEROUPPER
	RET
