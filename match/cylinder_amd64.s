//go:build amd64 && !purego

#include "textflag.h"

// cellIdx: i - 3.5 for i = 0..7 (float64).
DATA cellIdxVec<>+0(SB)/8, $0xc00c000000000000
DATA cellIdxVec<>+8(SB)/8, $0xc004000000000000
DATA cellIdxVec<>+16(SB)/8, $0xbff8000000000000
DATA cellIdxVec<>+24(SB)/8, $0xbfe0000000000000
DATA cellIdxVec<>+32(SB)/8, $0x3fe0000000000000
DATA cellIdxVec<>+40(SB)/8, $0x3ff8000000000000
DATA cellIdxVec<>+48(SB)/8, $0x4004000000000000
DATA cellIdxVec<>+56(SB)/8, $0x400c000000000000
GLOBL cellIdxVec<>(SB), RODATA|NOPTR, $64

// func sectionBitsAVX512(acc *[6][64]float32, mu float32, out *[6]uint64)
//
// Each section's 64 cells are four vectors of 16: compared with mu (the
// scalar loop's a ≥ μΨ), the four 16-bit masks make the section's word.
TEXT ·sectionBitsAVX512(SB), NOSPLIT, $0-24
	MOVQ         acc+0(FP), SI
	MOVQ         out+16(FP), DI
	VBROADCASTSS mu+8(FP), Z1
	VPXORD       Z0, Z0, Z0

	// Section 0.
	VMOVUPS   0(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, AX
	VMOVUPS   Z0, 0(SI)
	VMOVUPS   64(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, BX
	VMOVUPS   Z0, 64(SI)
	VMOVUPS   128(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, CX
	VMOVUPS   Z0, 128(SI)
	VMOVUPS   192(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, DX
	VMOVUPS   Z0, 192(SI)
	SHLQ      $16, BX
	SHLQ      $32, CX
	SHLQ      $48, DX
	ORQ       BX, AX
	ORQ       CX, AX
	ORQ       DX, AX
	MOVQ      AX, 0(DI)

	// Section 1.
	VMOVUPS   256(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, AX
	VMOVUPS   Z0, 256(SI)
	VMOVUPS   320(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, BX
	VMOVUPS   Z0, 320(SI)
	VMOVUPS   384(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, CX
	VMOVUPS   Z0, 384(SI)
	VMOVUPS   448(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, DX
	VMOVUPS   Z0, 448(SI)
	SHLQ      $16, BX
	SHLQ      $32, CX
	SHLQ      $48, DX
	ORQ       BX, AX
	ORQ       CX, AX
	ORQ       DX, AX
	MOVQ      AX, 8(DI)

	// Section 2.
	VMOVUPS   512(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, AX
	VMOVUPS   Z0, 512(SI)
	VMOVUPS   576(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, BX
	VMOVUPS   Z0, 576(SI)
	VMOVUPS   640(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, CX
	VMOVUPS   Z0, 640(SI)
	VMOVUPS   704(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, DX
	VMOVUPS   Z0, 704(SI)
	SHLQ      $16, BX
	SHLQ      $32, CX
	SHLQ      $48, DX
	ORQ       BX, AX
	ORQ       CX, AX
	ORQ       DX, AX
	MOVQ      AX, 16(DI)

	// Section 3.
	VMOVUPS   768(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, AX
	VMOVUPS   Z0, 768(SI)
	VMOVUPS   832(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, BX
	VMOVUPS   Z0, 832(SI)
	VMOVUPS   896(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, CX
	VMOVUPS   Z0, 896(SI)
	VMOVUPS   960(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, DX
	VMOVUPS   Z0, 960(SI)
	SHLQ      $16, BX
	SHLQ      $32, CX
	SHLQ      $48, DX
	ORQ       BX, AX
	ORQ       CX, AX
	ORQ       DX, AX
	MOVQ      AX, 24(DI)

	// Section 4.
	VMOVUPS   1024(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, AX
	VMOVUPS   Z0, 1024(SI)
	VMOVUPS   1088(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, BX
	VMOVUPS   Z0, 1088(SI)
	VMOVUPS   1152(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, CX
	VMOVUPS   Z0, 1152(SI)
	VMOVUPS   1216(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, DX
	VMOVUPS   Z0, 1216(SI)
	SHLQ      $16, BX
	SHLQ      $32, CX
	SHLQ      $48, DX
	ORQ       BX, AX
	ORQ       CX, AX
	ORQ       DX, AX
	MOVQ      AX, 32(DI)

	// Section 5.
	VMOVUPS   1280(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, AX
	VMOVUPS   Z0, 1280(SI)
	VMOVUPS   1344(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, BX
	VMOVUPS   Z0, 1344(SI)
	VMOVUPS   1408(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, CX
	VMOVUPS   Z0, 1408(SI)
	VMOVUPS   1472(SI), Z2
	VCMPPS    $0x1d, Z1, Z2, K1
	KMOVW     K1, DX
	VMOVUPS   Z0, 1472(SI)
	SHLQ      $16, BX
	SHLQ      $32, CX
	SHLQ      $48, DX
	ORQ       BX, AX
	ORQ       CX, AX
	ORQ       DX, AX
	MOVQ      AX, 40(DI)
	VZEROUPPER
	RET

// func accumulateAVX512(acc *[6][64]float32, nb *nbrContrib, n int, mask uint64, c *accumConsts)
//
// The scalar loop's contributions of n neighbours to the cells of their
// boxes, in the neighbours' order: per box row, four cells in four lanes
// (float64 for the squared distance, as the scalar loop), kept if valid
// (mask), inside the box and within 3σS; then for each section the four
// sums (float32) loaded, added gs·e, stored, with the kept lanes' mask.
// Registers: Y14 reach², Y15 gsScale, X8-X13 the neighbour's e[0..5], Y1
// its squared x-distances to the box's columns. GPRs: DI acc, SI the
// neighbour, DX neighbours left, R8 mask, R10 gsTable, BX c, R9 the box's
// first column, R11 its row j, R12 rows left, R13 the box's lane mask, AX
// the row's first cell, CX scratch.
TEXT ·accumulateAVX512(SB), NOSPLIT, $0-40
	MOVQ         acc+0(FP), DI
	MOVQ         nb+8(FP), SI
	MOVQ         n+16(FP), DX
	MOVQ         mask+24(FP), R8
	MOVQ         c+32(FP), BX
	VBROADCASTSD 0(BX), Y14
	VBROADCASTSD 8(BX), Y15
	MOVQ         16(BX), R10
	TESTQ        DX, DX
	JLE          accdone

accnbr:
	MOVQ         24(BX), R9
	VBROADCASTSD 0(SI), Y0
	MOVLQSX      16(SI), AX
	VMOVUPD      (R9)(AX*8), Y1
	VSUBPD       Y0, Y1, Y1
	VMULPD       Y1, Y1, Y1
	MOVQ         AX, R9
	VBROADCASTSS 32(SI), X8
	VBROADCASTSS 36(SI), X9
	VBROADCASTSS 40(SI), X10
	VBROADCASTSS 44(SI), X11
	VBROADCASTSS 48(SI), X12
	VBROADCASTSS 52(SI), X13
	MOVLQSX      20(SI), R11
	MOVL         24(SI), R12
	MOVL         28(SI), R13
	VMOVSD       8(SI), X2

accrow:
	// d2 = dx² + dy², kept if ≤ reach², valid and inside the box.
	MOVQ         24(BX), CX
	VMOVSD       (CX)(R11*8), X3
	VSUBSD       X2, X3, X3
	VMULSD       X3, X3, X3
	VBROADCASTSD X3, Y3
	VADDPD       Y3, Y1, Y4
	VCMPPD       $0x12, Y14, Y4, K1
	MOVQ         R11, AX
	SHLQ         $3, AX
	ADDQ         R9, AX
	MOVQ         AX, CX
	MOVQ         R8, BX
	SHRQ         CX, BX
	ANDQ         R13, BX
	KMOVW        BX, K2
	KANDW        K2, K1, K1
	MOVQ         c+32(FP), BX

	// gs = gsTable[int(d2·gsScale)].
	VMULPD     Y15, Y4, Y4
	VCVTTPD2DQY Y4, X4
	KMOVW      K1, K2
	VXORPS     X5, X5, X5
	VGATHERDPS (R10)(X4*4), K2, X5

	// acc[k][cell] += gs·e[k], the kept cells.
	LEAQ      (DI)(AX*4), CX
	VMULPS    X8, X5, X6
	VMOVUPS.Z 0(CX), K1, X7
	VADDPS    X6, X7, X7
	VMOVUPS   X7, K1, 0(CX)
	VMULPS    X9, X5, X6
	VMOVUPS.Z 256(CX), K1, X7
	VADDPS    X6, X7, X7
	VMOVUPS   X7, K1, 256(CX)
	VMULPS    X10, X5, X6
	VMOVUPS.Z 512(CX), K1, X7
	VADDPS    X6, X7, X7
	VMOVUPS   X7, K1, 512(CX)
	VMULPS    X11, X5, X6
	VMOVUPS.Z 768(CX), K1, X7
	VADDPS    X6, X7, X7
	VMOVUPS   X7, K1, 768(CX)
	VMULPS    X12, X5, X6
	VMOVUPS.Z 1024(CX), K1, X7
	VADDPS    X6, X7, X7
	VMOVUPS   X7, K1, 1024(CX)
	VMULPS    X13, X5, X6
	VMOVUPS.Z 1280(CX), K1, X7
	VADDPS    X6, X7, X7
	VMOVUPS   X7, K1, 1280(CX)

	INCQ R11
	DECL R12
	JNZ  accrow

	ADDQ $64, SI
	DECQ DX
	JNZ  accnbr

accdone:
	VZEROUPPER
	RET

// func edgeCellsAVX512(hb, hi, hj float64) uint64
//
// Row j of the cells, eight lanes i: col = hb + cellIdx[i]·hi, then
// col + cellIdx[j]·hj ≥ 0, in float64 as the scalar loop.
TEXT ·edgeCellsAVX512(SB), NOSPLIT, $0-32
	VBROADCASTSD hb+0(FP), Z0
	VBROADCASTSD hi+8(FP), Z1
	VMOVUPD      cellIdxVec<>(SB), Z2
	VMULPD       Z1, Z2, Z3
	VADDPD       Z3, Z0, Z3
	VPXORQ       Z4, Z4, Z4
	VMOVSD       hj+16(FP), X5
	XORQ         AX, AX

	VMULSD       cellIdxVec<>+0(SB), X5, X6
	VBROADCASTSD X6, Z6
	VADDPD       Z6, Z3, Z7
	VCMPPD       $0x1d, Z4, Z7, K1
	KMOVW        K1, BX
	ORQ          BX, AX

	VMULSD       cellIdxVec<>+8(SB), X5, X6
	VBROADCASTSD X6, Z6
	VADDPD       Z6, Z3, Z7
	VCMPPD       $0x1d, Z4, Z7, K1
	KMOVW        K1, BX
	SHLQ         $8, BX
	ORQ          BX, AX

	VMULSD       cellIdxVec<>+16(SB), X5, X6
	VBROADCASTSD X6, Z6
	VADDPD       Z6, Z3, Z7
	VCMPPD       $0x1d, Z4, Z7, K1
	KMOVW        K1, BX
	SHLQ         $16, BX
	ORQ          BX, AX

	VMULSD       cellIdxVec<>+24(SB), X5, X6
	VBROADCASTSD X6, Z6
	VADDPD       Z6, Z3, Z7
	VCMPPD       $0x1d, Z4, Z7, K1
	KMOVW        K1, BX
	SHLQ         $24, BX
	ORQ          BX, AX

	VMULSD       cellIdxVec<>+32(SB), X5, X6
	VBROADCASTSD X6, Z6
	VADDPD       Z6, Z3, Z7
	VCMPPD       $0x1d, Z4, Z7, K1
	KMOVW        K1, BX
	SHLQ         $32, BX
	ORQ          BX, AX

	VMULSD       cellIdxVec<>+40(SB), X5, X6
	VBROADCASTSD X6, Z6
	VADDPD       Z6, Z3, Z7
	VCMPPD       $0x1d, Z4, Z7, K1
	KMOVW        K1, BX
	SHLQ         $40, BX
	ORQ          BX, AX

	VMULSD       cellIdxVec<>+48(SB), X5, X6
	VBROADCASTSD X6, Z6
	VADDPD       Z6, Z3, Z7
	VCMPPD       $0x1d, Z4, Z7, K1
	KMOVW        K1, BX
	SHLQ         $48, BX
	ORQ          BX, AX

	VMULSD       cellIdxVec<>+56(SB), X5, X6
	VBROADCASTSD X6, Z6
	VADDPD       Z6, Z3, Z7
	VCMPPD       $0x1d, Z4, Z7, K1
	KMOVW        K1, BX
	SHLQ         $56, BX
	ORQ          BX, AX
	MOVQ         AX, ret+24(FP)
	VZEROUPPER
	RET
