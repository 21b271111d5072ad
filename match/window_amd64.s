//go:build amd64 && !purego

#include "textflag.h"
#include "kernels_amd64.h"

// func windowAllAVX512(p *windowArgs) int
//
// For each cylinder u of the first view, the candidates of its runs (one
// or two) eight at a time. A block of eight cylinders is 10 rows of 8
// words (640 bytes): rows 0-5 the sections' values, 6 the valid cells, 7-9
// the bit-sliced counts.
// Registers: Z16 u's valid cells, Z17-Z19 its counts, Z20-Z25 its values,
// Z31 u<<16, Z26/Z27 the run's bounds v0/v1, Y30 1.0, Z29 zero, Z28
// 0xffffffff, Z15 minCommonCells, Z14 the block's candidate numbers, Z13
// eight. GPRs: DI p, DX the candidates' keys, R8 candidates' keys written,
// R11 u, R12 rows, R13 the run (0 or 2), SI the block, BX/CX v0/v1; then,
// ranking, BX/R9 the row's first and current candidate, CX ranked keys
// written, R10 steps left, AX the last key taken. Locals: 0(SP) the row's
// first candidate, 8(SP) ranked keys written.
TEXT ·windowAllAVX512(SB), NOSPLIT, $16-16
	MOVQ p+0(FP), DI
	MOVQ 32(DI), DX
	XORQ R8, R8
	XORQ R11, R11
	MOVQ 24(DI), R12
	MOVQ $0, 0(SP)   // where the row's candidates start
	MOVQ $0, 8(SP)   // ranked keys written

	VPBROADCASTQ 48(DI), Z15
	MOVL         $0x3f800000, R9
	VPBROADCASTD R9, Y30
	VPXORQ       Z29, Z29, Z29
	MOVL         $0xffffffff, R9
	VPBROADCASTQ R9, Z28
	MOVL         $8, R9
	VPBROADCASTQ R9, Z13

row:
	CMPQ R11, R12
	JGE  done

	// u's words: in its block, at lane u mod 8 of each row.
	MOVQ         R11, R9
	SHRQ         $3, R9
	IMULQ        $640, R9
	MOVQ         R11, R10
	ANDQ         $7, R10
	LEAQ         (R9)(R10*8), R9
	ADDQ         0(DI), R9
	VPBROADCASTQ 0(R9), Z20
	VPBROADCASTQ 64(R9), Z21
	VPBROADCASTQ 128(R9), Z22
	VPBROADCASTQ 192(R9), Z23
	VPBROADCASTQ 256(R9), Z24
	VPBROADCASTQ 320(R9), Z25
	VPBROADCASTQ 384(R9), Z16
	VPBROADCASTQ 448(R9), Z17
	VPBROADCASTQ 512(R9), Z18
	VPBROADCASTQ 576(R9), Z19
	MOVQ         R11, R9
	SHLQ         $16, R9
	VPBROADCASTQ R9, Z31
	XORQ         R13, R13

run:
	MOVQ    16(DI), R9
	LEAQ    (R13)(R11*4), R10
	MOVLQSX (R9)(R10*4), BX
	MOVLQSX 4(R9)(R10*4), CX
	CMPQ    BX, CX
	JGE     runnext

	VPBROADCASTQ BX, Z26
	VPBROADCASTQ CX, Z27

	// The first block: the one holding v0.
	MOVQ         BX, R10
	SHRQ         $3, R10
	MOVQ         R10, R9
	SHLQ         $3, R9
	VPBROADCASTQ R9, Z14
	VPADDQ       ·laneNumbers64(SB), Z14, Z14
	IMULQ        $640, R10
	MOVQ         8(DI), SI
	ADDQ         R10, SI

block:
	// The lanes whose candidate lies in [v0, v1); none left: the run is done.
	VPCMPUQ  $5, Z26, Z14, K1
	VPCMPUQ  $1, Z27, Z14, K1, K1
	KORTESTW K1, K1
	JZ       runnext

	// Common valid cells: at least minCommonCells.
	VMOVDQU64 384(SI), Z0
	VPANDQ    Z16, Z0, Z1
	VPOPCNTQ  Z1, Z1
	VPCMPUQ   $5, Z15, Z1, K1, K1

	// pa: u's bits within the candidate's valid cells.
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

	// pb: the candidate's bits within u's valid cells.
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

	// key = (0xffffffff - bits(sim))<<32 | u<<16 | v.
	VPMOVZXDQ   Y5, Z6
	VPSUBQ      Z6, Z28, Z6
	VPSLLQ      $32, Z6, Z6
	VPORQ       Z31, Z6, Z6
	VPORQ       Z14, Z6, Z6
	VPCOMPRESSQ Z6, K1, (DX)(R8*8)
	KMOVW       K1, R9
	POPCNTL     R9, R9
	ADDQ        R9, R8

	VPADDQ Z13, Z14, Z14
	ADDQ   $640, SI
	JMP    block

runnext:
	ADDQ $2, R13
	CMPQ R13, $4
	JLT  run

	// The row's candidates end here.
	MOVQ 40(DI), R9
	MOVL R8, (R9)(R11*4)

	// Ranking: the row's rowTopK smallest keys, ascending, appended to
	// the ranked keys. Keys are distinct and never 0, so each step takes
	// the smallest key above the previous one (0 at first); a step that
	// finds none (all ones) ends the row early.
	MOVQ 0(SP), BX
	MOVQ 8(SP), CX
	MOVQ 64(DI), R9
	MOVL CX, (R9)(R11*4)
	MOVQ $6, R10
	XORQ AX, AX

rankstep:
	VPBROADCASTQ AX, Z1
	VPTERNLOGQ   $0xff, Z2, Z2, Z2
	MOVQ         BX, R9

rankblock:
	CMPQ         R9, R8
	JGE          rankreduce
	MOVQ         R8, R13
	SUBQ         R9, R13
	VPBROADCASTQ R13, Z3
	VMOVDQU64    ·laneNumbers64(SB), Z4
	VPCMPUQ      $1, Z3, Z4, K1
	VMOVDQU64.Z  (DX)(R9*8), K1, Z3
	VPCMPUQ      $6, Z1, Z3, K1, K1
	VPMINUQ      Z3, Z2, K1, Z2
	ADDQ         $8, R9
	JMP          rankblock

rankreduce:
	HMIN_UQ(Z2, Y2, X2, Z3, Y3, X3, AX)
	CMPQ          AX, $-1
	JEQ           rankdone
	MOVQ          56(DI), R9
	MOVQ          AX, (R9)(CX*8)
	INCQ          CX
	DECQ          R10
	JNZ           rankstep

rankdone:
	MOVQ CX, 8(SP)
	MOVQ R8, 0(SP)
	INCQ R11
	JMP  row

done:
	MOVQ 8(SP), AX
	MOVQ AX, ret+8(FP)
	VZEROUPPER
	RET
