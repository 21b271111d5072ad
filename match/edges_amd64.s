//go:build amd64 && !purego

#include "textflag.h"
#include "kernels_amd64.h"

// ZANGLE sets dst to zAngle(table, d) in the lanes of K1: |d|, 2π−|d| if
// above π, the index int(d·zAN/π + 0.5) plus the table's offset in
// zTables (off), gathered (d is overwritten; K2, K3 scratch).
#define ZANGLE(d, off, dst) \
	VPANDD     Y16, d, d; \
	VCMPPS     $0x1e, Y20, d, K3; \
	VSUBPS     d, Y21, K3, d; \
	VMULPS     Y23, d, d; \
	VADDPS     Y18, d, d; \
	VCVTTPS2DQ d, d; \
	VPADDD     off, d, d; \
	KMOVW      K1, K2; \
	VPXORD     dst, dst, dst; \
	VGATHERDPS (R10)(d*4), K2, dst

// func edgesAVX512(p *edgeArgs, c *edgeKernelConsts) int
//
// The scalar loop of compatibilitiesScalar, step by step, in eight lanes:
// float32 where it computes in float32 (Y registers), float64 for the
// direction differences (Z registers), each mask the scalar loop's branch.
// Row t (pairs k = t+1 … n-1) eight pairs at a time.
// Constants: Y16 |x| mask, Y17 1/z1Step, Y18 0.5, Y19 z1Keep, Y20 π, Y21
// 2π, Y22 -π, Y23 zAN/π, Y24 1e-4, Y25/Y26 the offsets of z2Table and
// z3Table in zTables, Z27/Z28/Z29 π, 2π, -π in float64, Y15 lane numbers.
// Per row: Z30/Z31 the directions of pair t's cylinders, Y1/Y14 at·na and
// bt·nb (the offsets of their rows in the distance and direction tables).
// GPRs: DI p, SI c, R8 edges written, R10 zTables, AX/BX the outputs, R11
// t, R12 n, CX j (the row's first pair in this step), DX the row's length.
TEXT ·edgesAVX512(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), DI
	MOVQ c+8(FP), SI
	XORQ R8, R8
	XORQ R11, R11
	MOVQ 88(DI), R12

	VPBROADCASTD 0(SI), Y16
	VPBROADCASTD 4(SI), Y17
	VPBROADCASTD 8(SI), Y18
	VPBROADCASTD 12(SI), Y19
	VPBROADCASTD 16(SI), Y20
	VPBROADCASTD 20(SI), Y21
	VPBROADCASTD 24(SI), Y22
	VPBROADCASTD 28(SI), Y23
	VPBROADCASTD 32(SI), Y24
	VPBROADCASTD 36(SI), Y25
	VPBROADCASTD 40(SI), Y26
	VPBROADCASTQ 48(SI), Z27
	VPBROADCASTQ 56(SI), Z28
	VPBROADCASTQ 64(SI), Z29
	VMOVDQU32    ·laneNumbers32(SB), Y15
	MOVQ         72(DI), AX
	MOVQ         80(DI), BX
	MOVQ         48(DI), R10

row:
	// The row's length n-t-1; none left: done.
	MOVQ R12, DX
	SUBQ R11, DX
	DECQ DX
	JLE  rowsdone

	MOVQ         32(DI), R9
	VPBROADCASTQ (R9)(R11*8), Z30
	MOVQ         40(DI), R9
	VPBROADCASTQ (R9)(R11*8), Z31
	MOVQ         56(DI), R9
	MOVLQSX      (R9)(R11*4), R13
	IMULQ        96(DI), R13
	VPBROADCASTD R13, Y1
	MOVQ         64(DI), R9
	MOVLQSX      (R9)(R11*4), R13
	IMULQ        104(DI), R13
	VPBROADCASTD R13, Y14
	XORQ         CX, CX

loop:
	// The lanes that exist: j+lane < the row's length.
	LANES_LEFT(DX, CX, Y15, R9, Y0, K1)
	MOVQ         56(DI), R9
	LEAQ         4(R9)(R11*4), R9
	VMOVDQU32.Z  (R9)(CX*4), K1, Y2
	MOVQ         64(DI), R9
	LEAQ         4(R9)(R11*4), R9
	VMOVDQU32.Z  (R9)(CX*4), K1, Y3
	VPADDD       Y1, Y2, Y0
	VPADDD       Y14, Y3, Y9

	// i = int(|dist_a[at][ak]-dist_b[bt][bk]|·(1/z1Step) + 0.5), kept if i ≤ z1Keep.
	MOVQ       0(DI), R9
	GATHER_PS((R9)(Y0*4), Y4)
	MOVQ       8(DI), R9
	GATHER_PS((R9)(Y9*4), Y5)
	VSUBPS     Y5, Y4, Y4
	VPANDD     Y16, Y4, Y4
	VMULPS     Y17, Y4, Y4
	VADDPS     Y18, Y4, Y4
	VCVTTPS2DQ Y4, Y4
	VPCMPUD    $2, Y19, Y4, K1, K1
	KORTESTW   K1, K1
	JZ         next

	// r = z1Table[i].
	GATHER_PS((R10)(Y4*4), Y6)

	// d2 = float32(wrap(ang_b[bt] - ang_b[bk] - ang_a[at] + ang_a[ak]));
	// the directions of the pairs' cylinders are in selection order.
	MOVQ        40(DI), R9
	LEAQ        8(R9)(R11*8), R9
	VMOVUPD.Z   (R9)(CX*8), K1, Z7
	MOVQ        32(DI), R9
	LEAQ        8(R9)(R11*8), R9
	VMOVUPD.Z   (R9)(CX*8), K1, Z8
	VSUBPD     Z7, Z31, Z7
	VSUBPD     Z30, Z7, Z7
	VADDPD     Z8, Z7, Z7
	WRAP_PD(Z7, Z29, Z27, Z28, K3)
	VCVTPD2PS  Z7, Y7

	// z2 = zAngle(z2Table, d2).
	ZANGLE(Y7, Y25, Y8)

	// Kept if r·z2 > 1e-4.
	VMULPS   Y8, Y6, Y13
	VCMPPS   $0x1e, Y24, Y13, K1, K1
	KORTESTW K1, K1
	JZ       next

	// d3 = wrap32(rel_b[bt][bk] - rel_a[at][ak]).
	MOVQ       24(DI), R9
	GATHER_PS((R9)(Y9*4), Y10)
	MOVQ       16(DI), R9
	GATHER_PS((R9)(Y0*4), Y11)
	VSUBPS     Y11, Y10, Y10
	VCMPPS     $0x1e, Y20, Y10, K3
	VCMPPS     $0x11, Y22, Y10, K4
	VSUBPS     Y21, Y10, K3, Y10
	VADDPS     Y21, Y10, K4, Y10

	// z3 = zAngle(z3Table, d3).
	ZANGLE(Y10, Y26, Y12)

	// r = r·(z2·z3), kept if r > 1e-4.
	VMULPS Y12, Y8, Y12
	VMULPS Y12, Y6, Y6
	VCMPPS $0x1e, Y24, Y6, K1, K1

	// The kept pairs k = t+1+j+lane and their r.
	LEAQ         1(R11)(CX*1), R9
	VPBROADCASTD R9, Y13
	VPADDD       Y15, Y13, Y13
	VPCOMPRESSD  Y13, K1, (AX)(R8*4)
	VCOMPRESSPS  Y6, K1, (BX)(R8*4)
	KMOVW        K1, R9
	POPCNTL      R9, R9
	ADDQ         R9, R8

next:
	ADDQ $8, CX
	CMPQ CX, DX
	JLT  loop

	// The row ends here.
	MOVQ 112(DI), R9
	MOVL R8, (R9)(R11*4)
	INCQ R11
	JMP  row

rowsdone:
	// The last row (no pairs after it) ends here too.
	CMPQ R11, R12
	JGE  done
	MOVQ 112(DI), R9
	MOVL R8, (R9)(R11*4)

done:
	MOVQ R8, ret+16(FP)
	VZEROUPPER
	RET
