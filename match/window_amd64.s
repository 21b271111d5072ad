//go:build amd64 && !purego

#include "textflag.h"

// Lane numbers 0..7.
DATA lanes<>+0(SB)/8, $0
DATA lanes<>+8(SB)/8, $1
DATA lanes<>+16(SB)/8, $2
DATA lanes<>+24(SB)/8, $3
DATA lanes<>+32(SB)/8, $4
DATA lanes<>+40(SB)/8, $5
DATA lanes<>+48(SB)/8, $6
DATA lanes<>+56(SB)/8, $7
GLOBL lanes<>(SB), RODATA|NOPTR, $64

// func windowKeysAVX512(aw *[11]uint64, blk *uint64, v0, v1 int, hi uint64, out *uint64) int
//
// A block of eight cylinders is 10 rows of 8 words (640 bytes): rows 0-5
// the sections' values, 6 the valid cells, 7-9 the bit-sliced counts.
// Registers: Z16 a's valid cells, Z17-Z19 a's counts, Z20-Z25 a's values,
// Z26/Z27 v0/v1, Z31 hi, Y30 1.0, Z29 zero, Z28 0xffffffff, Z15
// minCommonCells, Z14 the block's candidate numbers, Z13 eight.
TEXT ·windowKeysAVX512(SB), NOSPLIT, $0-56
	MOVQ aw+0(FP), AX
	MOVQ blk+8(FP), SI
	MOVQ v0+16(FP), BX
	MOVQ v1+24(FP), CX
	MOVQ hi+32(FP), DX
	MOVQ out+40(FP), DI
	XORQ R8, R8
	CMPQ BX, CX
	JGE  done

	VPBROADCASTQ 0(AX), Z20
	VPBROADCASTQ 8(AX), Z21
	VPBROADCASTQ 16(AX), Z22
	VPBROADCASTQ 24(AX), Z23
	VPBROADCASTQ 32(AX), Z24
	VPBROADCASTQ 40(AX), Z25
	VPBROADCASTQ 48(AX), Z16
	VPBROADCASTQ 56(AX), Z17
	VPBROADCASTQ 64(AX), Z18
	VPBROADCASTQ 72(AX), Z19
	VPBROADCASTQ 80(AX), Z15
	VPBROADCASTQ BX, Z26
	VPBROADCASTQ CX, Z27
	VPBROADCASTQ DX, Z31
	MOVL         $0x3f800000, R9
	VPBROADCASTD R9, Y30
	VPXORQ       Z29, Z29, Z29
	MOVL         $0xffffffff, R9
	VPBROADCASTQ R9, Z28
	MOVL         $8, R9
	VPBROADCASTQ R9, Z13

	// The first block: the one holding v0.
	MOVQ         BX, R10
	SHRQ         $3, R10
	MOVQ         R10, R11
	SHLQ         $3, R11
	VPBROADCASTQ R11, Z14
	VPADDQ       lanes<>(SB), Z14, Z14
	IMULQ        $640, R10
	ADDQ         R10, SI

loop:
	// The lanes whose candidate lies in [v0, v1); none left: done.
	VPCMPUQ  $5, Z26, Z14, K1
	VPCMPUQ  $1, Z27, Z14, K1, K1
	KORTESTW K1, K1
	JZ       done

	// Common valid cells: at least minCommonCells.
	VMOVDQU64 384(SI), Z0
	VPANDQ    Z16, Z0, Z1
	VPOPCNTQ  Z1, Z1
	VPCMPUQ   $5, Z15, Z1, K1, K1

	// pa: a's bits within b's valid cells.
	VPANDQ   Z17, Z0, Z2
	VPOPCNTQ Z2, Z2
	VPANDQ   Z18, Z0, Z3
	VPOPCNTQ Z3, Z3
	VPANDQ   Z19, Z0, Z4
	VPOPCNTQ Z4, Z4
	VPSLLQ   $1, Z3, Z3
	VPSLLQ   $2, Z4, Z4
	VPADDQ   Z3, Z2, Z2
	VPADDQ   Z4, Z2, Z2

	// pb: b's bits within a's valid cells.
	VPANDQ   448(SI), Z16, Z3
	VPOPCNTQ Z3, Z3
	VPANDQ   512(SI), Z16, Z4
	VPOPCNTQ Z4, Z4
	VPSLLQ   $1, Z4, Z4
	VPADDQ   Z4, Z3, Z3
	VPANDQ   576(SI), Z16, Z4
	VPOPCNTQ Z4, Z4
	VPSLLQ   $2, Z4, Z4
	VPADDQ   Z4, Z3, Z3

	// pab: the bits set in both.
	VPANDQ   0(SI), Z20, Z4
	VPOPCNTQ Z4, Z4
	VPANDQ   64(SI), Z21, Z5
	VPOPCNTQ Z5, Z5
	VPADDQ   Z5, Z4, Z4
	VPANDQ   128(SI), Z22, Z5
	VPOPCNTQ Z5, Z5
	VPADDQ   Z5, Z4, Z4
	VPANDQ   192(SI), Z23, Z5
	VPOPCNTQ Z5, Z5
	VPADDQ   Z5, Z4, Z4
	VPANDQ   256(SI), Z24, Z5
	VPOPCNTQ Z5, Z5
	VPADDQ   Z5, Z4, Z4
	VPANDQ   320(SI), Z25, Z5
	VPOPCNTQ Z5, Z5
	VPADDQ   Z5, Z4, Z4

	// pa+pb must not be 0; x = pa+pb-2·pab.
	VPADDQ   Z3, Z2, Z5
	VPTESTMQ Z5, Z5, K1, K1
	VPSLLQ   $1, Z4, Z4
	VPSUBQ   Z4, Z5, Z5

	// sim = 1 - √x/(√pa+√pb), in float32 as the scalar loop.
	VPMOVQD   Z2, Y2
	VPMOVQD   Z3, Y3
	VPMOVQD   Z5, Y5
	VCVTDQ2PS Y2, Y2
	VCVTDQ2PS Y3, Y3
	VCVTDQ2PS Y5, Y5
	VSQRTPS   Y2, Y2
	VSQRTPS   Y3, Y3
	VSQRTPS   Y5, Y5
	VADDPS    Y3, Y2, Y2
	VDIVPS    Y2, Y5, Y5
	VSUBPS    Y5, Y30, Y5
	VCMPPS    $0x1e, Y29, Y5, K1, K1

	// key = (0xffffffff - bits(sim))<<32 | hi | v.
	VPMOVZXDQ   Y5, Z6
	VPSUBQ      Z6, Z28, Z6
	VPSLLQ      $32, Z6, Z6
	VPORQ       Z31, Z6, Z6
	VPORQ       Z14, Z6, Z6
	VPCOMPRESSQ Z6, K1, (DI)
	KMOVW       K1, R9
	POPCNTL     R9, R9
	ADDQ        R9, R8
	LEAQ        (DI)(R9*8), DI

	VPADDQ Z13, Z14, Z14
	ADDQ   $640, SI
	JMP    loop

done:
	MOVQ R8, ret+48(FP)
	VZEROUPPER
	RET
