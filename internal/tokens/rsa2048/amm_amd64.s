#include "textflag.h"

// func amm2(z, x, y, m *pair, k0 *[2]uint64)
//
// Two almost Montgomery multiplications at once, z[h] = x[h]·y[h]·2^-1040
// mod m[h] for h = 0, 1, with the same steps as amm in nat.go. Each number is
// three 512-bit registers of 52-bit limbs. The two halves are independent, so
// one half's multiplications run while the other waits for its next digit.
//
// Registers, half 0 / half 1:
//	x: Z0–Z2 / Z16–Z18; m: Z3–Z5 / Z19–Z21; accumulator: Z6–Z8 / Z22–Z24
//	y[i] broadcast: Z9 / Z25; the reduction digit broadcast: Z10 / Z26
//	lane 0's carry: Z11 / Z27; zero: Z31; K1 selects lane 0.
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
	VPXORQ Z22, Z22, Z22
	VPXORQ Z23, Z23, Z23
	VPXORQ Z24, Z24, Z24
	VPXORQ Z31, Z31, Z31
	MOVQ $1, AX
	KMOVW AX, K1

	MOVQ $20, R11

loop:
	VPBROADCASTQ 0(BX), Z9
	VPBROADCASTQ 192(BX), Z25

	// acc += lo(x·y[i])
	VPMADD52LUQ Z9, Z0, Z6
	VPMADD52LUQ Z25, Z16, Z22
	VPMADD52LUQ Z9, Z1, Z7
	VPMADD52LUQ Z25, Z17, Z23
	VPMADD52LUQ Z9, Z2, Z8
	VPMADD52LUQ Z25, Z18, Z24

	// t = acc[0]·k0 mod 2^52
	VMOVQ X6, AX
	VMOVQ X22, R12
	IMULQ R8, AX
	IMULQ R9, R12
	ANDQ R10, AX
	ANDQ R10, R12
	VPBROADCASTQ AX, Z10
	VPBROADCASTQ R12, Z26

	// acc += lo(m·t); acc[0] is now a multiple of 2^52
	VPMADD52LUQ Z10, Z3, Z6
	VPMADD52LUQ Z26, Z19, Z22
	VPMADD52LUQ Z10, Z4, Z7
	VPMADD52LUQ Z26, Z20, Z23
	VPMADD52LUQ Z10, Z5, Z8
	VPMADD52LUQ Z26, Z21, Z24

	// acc = acc/2^52: keep lane 0's carry, shift every lane down one
	VPSRLQ.Z $52, Z6, K1, Z11
	VPSRLQ.Z $52, Z22, K1, Z27
	VALIGNQ $1, Z6, Z7, Z6
	VALIGNQ $1, Z22, Z23, Z22
	VALIGNQ $1, Z7, Z8, Z7
	VALIGNQ $1, Z23, Z24, Z23
	VALIGNQ $1, Z8, Z31, Z8
	VALIGNQ $1, Z24, Z31, Z24
	VPADDQ Z11, Z6, Z6
	VPADDQ Z27, Z22, Z22

	// acc += hi(x·y[i]) + hi(m·t), one limb lower than their products
	VPMADD52HUQ Z9, Z0, Z6
	VPMADD52HUQ Z25, Z16, Z22
	VPMADD52HUQ Z9, Z1, Z7
	VPMADD52HUQ Z25, Z17, Z23
	VPMADD52HUQ Z9, Z2, Z8
	VPMADD52HUQ Z25, Z18, Z24
	VPMADD52HUQ Z10, Z3, Z6
	VPMADD52HUQ Z26, Z19, Z22
	VPMADD52HUQ Z10, Z4, Z7
	VPMADD52HUQ Z26, Z20, Z23
	VPMADD52HUQ Z10, Z5, Z8
	VPMADD52HUQ Z26, Z21, Z24

	ADDQ $8, BX
	DECQ R11
	JNZ loop

	VMOVDQU64 Z6, 0(DI)
	VMOVDQU64 Z7, 64(DI)
	VMOVDQU64 Z8, 128(DI)
	VMOVDQU64 Z22, 192(DI)
	VMOVDQU64 Z23, 256(DI)
	VMOVDQU64 Z24, 320(DI)
	VZEROUPPER

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
