//go:build amd64 && !purego

#include "textflag.h"
#include "kernels_amd64.h"

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
	MOVQ         $6, R8

section:
	VMOVUPS 0(SI), Z2
	VCMPPS  $0x1d, Z1, Z2, K1
	KMOVW   K1, AX
	VMOVUPS Z0, 0(SI)
	VMOVUPS 64(SI), Z2
	VCMPPS  $0x1d, Z1, Z2, K1
	KMOVW   K1, BX
	VMOVUPS Z0, 64(SI)
	VMOVUPS 128(SI), Z2
	VCMPPS  $0x1d, Z1, Z2, K1
	KMOVW   K1, CX
	VMOVUPS Z0, 128(SI)
	VMOVUPS 192(SI), Z2
	VCMPPS  $0x1d, Z1, Z2, K1
	KMOVW   K1, DX
	VMOVUPS Z0, 192(SI)
	SHLQ    $16, BX
	SHLQ    $32, CX
	SHLQ    $48, DX
	ORQ     BX, AX
	ORQ     CX, AX
	ORQ     DX, AX
	MOVQ    AX, 0(DI)
	ADDQ    $256, SI
	ADDQ    $8, DI
	DECQ    R8
	JNZ     section
	VZEROUPPER
	RET

// func accumulateAVX512(acc *[6][64]float32, nb *nbrArrays, n int, mask uint64, c *accumConsts)
//
// The scalar loop's contributions of n neighbours to the cells of their
// boxes, in the neighbours' order: per box row, four cells in four lanes
// (float64 for the squared distance, as the scalar loop), kept if valid
// (mask), inside the box and within 3σS; then for each section the four
// sums (float32) loaded, added gs·e, stored, with the kept lanes' mask.
// The neighbours' fields are arrays in nb (offsets: nbrArrays).
// Registers: Y14 reach², Y15 gsScale, X8-X13 the neighbour's e[0..5], Y1
// its squared x-distances to the box's columns. GPRs: DI acc, SI the
// neighbour, DX the neighbours, BX c, R8 mask, R10 gsTable, R9 the box's
// first column, R11 its row j, R12 rows left, R13 the box's lane mask, AX
// the row's first cell, CX scratch.
TEXT ·accumulateAVX512(SB), NOSPLIT, $0-40
	MOVQ         acc+0(FP), DI
	MOVQ         n+16(FP), DX
	MOVQ         mask+24(FP), R8
	MOVQ         c+32(FP), BX
	VBROADCASTSD 0(BX), Y14
	VBROADCASTSD 8(BX), Y15
	MOVQ         16(BX), R10
	XORQ         SI, SI
	CMPQ         SI, DX
	JGE          accdone

accnbr:
	MOVQ         nb+8(FP), CX
	VBROADCASTSD 0(CX)(SI*8), Y0
	MOVLQSX      4080(CX)(SI*4), R9
	VMOVSD       2040(CX)(SI*8), X2
	MOVLQSX      5100(CX)(SI*4), R11
	MOVL         6120(CX)(SI*4), R12
	MOVL         7140(CX)(SI*4), R13
	VBROADCASTSS 8160(CX)(SI*4), X8
	VBROADCASTSS 9180(CX)(SI*4), X9
	VBROADCASTSS 10200(CX)(SI*4), X10
	VBROADCASTSS 11220(CX)(SI*4), X11
	VBROADCASTSS 12240(CX)(SI*4), X12
	VBROADCASTSS 13260(CX)(SI*4), X13
	MOVQ         24(BX), CX
	VMOVUPD      (CX)(R9*8), Y1
	VSUBPD       Y0, Y1, Y1
	VMULPD       Y1, Y1, Y1

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
	VMULPD      Y15, Y4, Y4
	VCVTTPD2DQY Y4, X4
	KMOVW       K1, K2
	VXORPS      X5, X5, X5
	VGATHERDPS  (R10)(X4*4), K2, X5

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

	INCQ SI
	CMPQ SI, DX
	JLT  accnbr

accdone:
	VZEROUPPER
	RET

// func neighboursAVX512(p *nbrArgs) int
//
// buildCylinders' set-up of each neighbour, eight neighbours a step in
// float64 as the scalar loop: the position in the minutia's frame, the box
// of cells within 3σS (ceilFrom0 and floorTo as rounding up and down; a
// box that is empty either way drops the neighbour), angleDelta as two
// masked steps each way, and the six directional terms (gdTable gathered).
// The kept neighbours' fields are compressed, in order, into p.out's
// arrays (offsets: nbrArrays). It returns how many it kept.
// Constants (p.c): Z16 1/Δs, Z17 3.5, Z18 reach/Δs, Z19 2π, Z20 π, Z21 -π,
// Z22 gdTableN/π, Z23 0.5, Z24 |x| mask; per view: Z25-Z29 the minutia's
// x, y, a, cos and -sin, Z30 its sin. Y31 lane numbers, Y15 zero.
// GPRs: DI p, SI the constants, CX the step's first neighbour, DX n, R8
// kept, R9-R13/AX/BX scratch.
TEXT ·neighboursAVX512(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), DI
	MOVQ 80(DI), SI
	MOVQ 8(DI), DX
	XORQ R8, R8
	XORQ CX, CX

	VBROADCASTSD 0(SI), Z16
	VBROADCASTSD 8(SI), Z17
	VBROADCASTSD 16(SI), Z18
	VBROADCASTSD 24(SI), Z19
	VBROADCASTSD 32(SI), Z20
	VBROADCASTSD 40(SI), Z21
	VBROADCASTSD 48(SI), Z22
	VBROADCASTSD 56(SI), Z23
	VPBROADCASTQ 64(SI), Z24
	VBROADCASTSD 32(DI), Z25
	VBROADCASTSD 40(DI), Z26
	VBROADCASTSD 48(DI), Z27
	VBROADCASTSD 56(DI), Z28
	VBROADCASTSD 64(DI), Z29
	VBROADCASTSD 72(DI), Z30
	VMOVDQU32    ·laneNumbers32(SB), Y31
	VPXORD       Y15, Y15, Y15

nstep:
	CMPQ CX, DX
	JGE  ndone

	// The neighbours of this step.
	LANES_LEFT(DX, CX, Y31, R9, Y0, K1)
	MOVQ         0(DI), R9
	VMOVDQU32.Z  (R9)(CX*4), K1, Y0
	MOVQ         16(DI), R9
	KMOVW        K1, K2
	VPXORQ       Z1, Z1, Z1
	VGATHERDPD   (R9)(Y0*8), K2, Z1
	MOVQ         24(DI), R9
	KMOVW        K1, K2
	VPXORQ       Z2, Z2, Z2
	VGATHERDPD   (R9)(Y0*8), K2, Z2
	MOVQ         96(DI), R9
	KMOVW        K1, K2
	VPXORQ       Z3, Z3, Z3
	VGATHERDPD   (R9)(Y0*8), K2, Z3

	// px = cos·dx + sin·dy, py = -sin·dx + cos·dy.
	VSUBPD Z25, Z1, Z1
	VSUBPD Z26, Z2, Z2
	VMULPD Z1, Z28, Z4
	VMULPD Z2, Z30, Z5
	VADDPD Z5, Z4, Z4
	VMULPD Z1, Z29, Z5
	VMULPD Z2, Z28, Z6
	VADDPD Z6, Z5, Z5

	// The box: i0 = ceilFrom0(fx - reach/Δs), i1 = floorTo(7, fx + reach/Δs), j likewise.
	VMULPD       Z16, Z4, Z6
	VADDPD       Z17, Z6, Z6
	VMULPD       Z16, Z5, Z7
	VADDPD       Z17, Z7, Z7
	VSUBPD       Z18, Z6, Z8
	VRNDSCALEPD  $0x0a, Z8, Z8
	VCVTTPD2DQ   Z8, Y8
	VPMAXSD      Y15, Y8, Y8
	VADDPD       Z18, Z6, Z9
	VRNDSCALEPD  $0x09, Z9, Z9
	VCVTTPD2DQ   Z9, Y9
	VSUBPD       Z18, Z7, Z10
	VRNDSCALEPD  $0x0a, Z10, Z10
	VCVTTPD2DQ   Z10, Y10
	VPMAXSD      Y15, Y10, Y10
	VADDPD       Z18, Z7, Z11
	VRNDSCALEPD  $0x09, Z11, Z11
	VCVTTPD2DQ   Z11, Y11
	MOVL         $7, R9
	VPBROADCASTD R9, Y12
	VPMINSD      Y12, Y9, Y9
	VPMINSD      Y12, Y11, Y11
	VPCMPD       $2, Y9, Y8, K1, K1
	VPCMPD       $2, Y11, Y10, K1, K1

	// dth = angleDelta(m.a, t.a).
	VSUBPD Z27, Z3, Z3
	ANGLE_DELTA_PD(Z3, Z21, Z20, Z19, K3)

	// The kept neighbours' fields, compressed.
	MOVQ          88(DI), BX
	VCOMPRESSPD   Z4, K1, 0(BX)(R8*8)
	VCOMPRESSPD   Z5, K1, 2040(BX)(R8*8)
	VPCOMPRESSD   Y8, K1, 4080(BX)(R8*4)
	VPCOMPRESSD   Y10, K1, 5100(BX)(R8*4)
	VPSUBD        Y10, Y11, Y13
	MOVL          $1, R9
	VPBROADCASTD  R9, Y14
	VPADDD        Y14, Y13, Y13
	VPCOMPRESSD   Y13, K1, 6120(BX)(R8*4)
	VPSUBD        Y8, Y9, Y13
	VPADDD        Y14, Y13, Y13
	VPSLLVD       Y13, Y14, Y13
	VPSUBD        Y14, Y13, Y13
	VPCOMPRESSD   Y13, K1, 7140(BX)(R8*4)

	// The six directional terms: gdTable[min(int(x·gdTableN/π + 0.5), gdTableN)],
	// x = min(|dth - centre_k|, 2π - |dth - centre_k|).
	MOVQ         104(DI), R10
	MOVL         $1024, R9
	VPBROADCASTD R9, Y12
	XORQ         R11, R11

nsection:
	VBROADCASTSD 72(SI)(R11*8), Z6
	VSUBPD       Z6, Z3, Z6
	VPANDQ       Z24, Z6, Z6
	VSUBPD       Z6, Z19, Z7
	VMINPD       Z7, Z6, Z6
	VMULPD       Z22, Z6, Z6
	VADDPD       Z23, Z6, Z6
	VCVTTPD2DQ   Z6, Y6
	VPMINSD      Y12, Y6, Y6
	KMOVW        K1, K2
	VXORPS       Y7, Y7, Y7
	VGATHERDPS   (R10)(Y6*4), K2, Y7
	MOVQ         R11, AX
	IMULQ        $1020, AX
	ADDQ         BX, AX
	VCOMPRESSPS  Y7, K1, 8160(AX)(R8*4)
	INCQ         R11
	CMPQ         R11, $6
	JLT          nsection

	KMOVW   K1, R9
	POPCNTL R9, R9
	ADDQ    R9, R8
	ADDQ    $8, CX
	JMP     nstep

ndone:
	MOVQ R8, ret+8(FP)
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
	LEAQ         cellIdxVec<>(SB), SI
	XORQ         CX, CX

edgerow:
	// Row j (bits 8j…8j+7): col + cellIdx[j]·hj ≥ 0.
	VMULSD       0(SI), X5, X6
	VBROADCASTSD X6, Z6
	VADDPD       Z6, Z3, Z7
	VCMPPD       $0x1d, Z4, Z7, K1
	KMOVW        K1, BX
	SHLQ         CX, BX
	ORQ          BX, AX
	ADDQ         $8, SI
	ADDQ         $8, CX
	CMPQ         CX, $64
	JLT          edgerow
	MOVQ         AX, ret+24(FP)
	VZEROUPPER
	RET
