//go:build amd64 && !purego

#include "textflag.h"

// Byte shuffles (VPSHUFB) that rotate each 64-bit word right by 24 and 16.
DATA ·rotr24<>+0x00(SB)/8, $0x0201000706050403
DATA ·rotr24<>+0x08(SB)/8, $0x0a09080f0e0d0c0b
DATA ·rotr24<>+0x10(SB)/8, $0x0201000706050403
DATA ·rotr24<>+0x18(SB)/8, $0x0a09080f0e0d0c0b
GLOBL ·rotr24<>(SB), (NOPTR+RODATA), $32

DATA ·rotr16<>+0x00(SB)/8, $0x0100070605040302
DATA ·rotr16<>+0x08(SB)/8, $0x09080f0e0d0c0b0a
DATA ·rotr16<>+0x10(SB)/8, $0x0100070605040302
DATA ·rotr16<>+0x18(SB)/8, $0x09080f0e0d0c0b0a
GLOBL ·rotr16<>(SB), (NOPTR+RODATA), $32

// a = a + b + 2*lo32(a)*lo32(b), in each 64-bit lane.
#define BLAMKA(a, b, t) \
	VPMULUDQ b, a, t; \
	VPADDQ   b, a, a; \
	VPADDQ   t, t, t; \
	VPADDQ   t, a, a

// Four GB functions at once: lane k of a, b, c, d holds one call's words.
#define GB4(a, b, c, d, t) \
	BLAMKA(a, b, t); VPXOR a, d, d; VPSHUFD $0xB1, d, d; \
	BLAMKA(c, d, t); VPXOR c, b, b; VPSHUFB Y14, b, b; \
	BLAMKA(a, b, t); VPXOR a, d, d; VPSHUFB Y15, d, d; \
	BLAMKA(c, d, t); VPXOR c, b, b; VPADDQ b, b, t; VPSRLQ $63, b, b; VPXOR t, b, b

// The permutation P on 16 words held as a=(v0..v3), b=(v4..v7),
// c=(v8..v11), d=(v12..v15): columns, then diagonals by rotating lanes.
#define ROUND(a, b, c, d, t) \
	GB4(a, b, c, d, t); \
	VPERMQ $0x39, b, b; VPERMQ $0x4E, c, c; VPERMQ $0x93, d, d; \
	GB4(a, b, c, d, t); \
	VPERMQ $0x93, b, b; VPERMQ $0x4E, c, c; VPERMQ $0x39, d, d

// The 128 bytes at offset R8 of base, in Y0–Y3: loaded, XORed in, stored.
#define LOAD4(base) \
	VMOVDQU 0(base)(R8*1), Y0; VMOVDQU 32(base)(R8*1), Y1; \
	VMOVDQU 64(base)(R8*1), Y2; VMOVDQU 96(base)(R8*1), Y3

#define XOR4(base) \
	VPXOR 0(base)(R8*1), Y0, Y0; VPXOR 32(base)(R8*1), Y1, Y1; \
	VPXOR 64(base)(R8*1), Y2, Y2; VPXOR 96(base)(R8*1), Y3, Y3

#define STORE4(base) \
	VMOVDQU Y0, 0(base)(R8*1); VMOVDQU Y1, 32(base)(R8*1); \
	VMOVDQU Y2, 64(base)(R8*1); VMOVDQU Y3, 96(base)(R8*1)

// func compressAVX2(out, x, y, z *block, xor bool)
//
// z = x ^ y; P on z's rows, then on its columns; then out = z ^ x ^ y,
// or out ^= z ^ x ^ y when xor is set. y may be out; z is scratch.
TEXT ·compressAVX2(SB), NOSPLIT, $0-33
	MOVQ out+0(FP), DX
	MOVQ x+8(FP), AX
	MOVQ y+16(FP), BX
	MOVQ z+24(FP), DI
	VMOVDQU ·rotr24<>(SB), Y14
	VMOVDQU ·rotr16<>(SB), Y15

	// z = x ^ y, 128 bytes at a time.
	XORQ R8, R8
xy:
	LOAD4(AX)
	XOR4(BX)
	// The first P works on this row (words 16i..16i+15): do it now.
	ROUND(Y0, Y1, Y2, Y3, Y8)
	STORE4(DI)
	ADDQ $128, R8
	CMPQ R8, $1024
	JNE  xy

	// Columns: word pairs 2i, 2i+1 of each row.
	MOVQ DI, SI
	MOVQ $8, CX
cols:
	VMOVDQU     0(SI), X0
	VINSERTI128 $1, 128(SI), Y0, Y0
	VMOVDQU     256(SI), X1
	VINSERTI128 $1, 384(SI), Y1, Y1
	VMOVDQU     512(SI), X2
	VINSERTI128 $1, 640(SI), Y2, Y2
	VMOVDQU     768(SI), X3
	VINSERTI128 $1, 896(SI), Y3, Y3
	ROUND(Y0, Y1, Y2, Y3, Y8)
	VMOVDQU      X0, 0(SI)
	VEXTRACTI128 $1, Y0, 128(SI)
	VMOVDQU      X1, 256(SI)
	VEXTRACTI128 $1, Y1, 384(SI)
	VMOVDQU      X2, 512(SI)
	VEXTRACTI128 $1, Y2, 640(SI)
	VMOVDQU      X3, 768(SI)
	VEXTRACTI128 $1, Y3, 896(SI)
	ADDQ $16, SI
	DECQ CX
	JNZ  cols

	// out (^)= z ^ x ^ y.
	MOVBLZX xor+32(FP), CX
	XORQ    R8, R8
fin:
	LOAD4(DI)
	XOR4(AX)
	XOR4(BX)
	TESTQ CX, CX
	JZ    store
	XOR4(DX)
store:
	STORE4(DX)
	ADDQ $128, R8
	CMPQ R8, $1024
	JNE  fin

	VZEROUPPER
	RET
