//go:build amd64 && !purego

#include "textflag.h"
#include "kernels_amd64.h"

// func agreementAVX512(p *agreementArgs)
//
// Per eight sampled cells of a: moved by the alignment (float32, in the
// scalar loop's order of operations), clamped onto b's padded box, b's
// cells gathered (12 bytes each: c, s, w), each sample's term computed in
// its lane, then the terms added to the sum one lane after the other (as
// the scalar loop adds them) and the weights to a vector of counts (whole
// numbers: any order gives the same total).
// Registers: Y16-Y25 the alignment and b's geometry (c, s, tx, ty, x0, y0,
// invX, invY, c2t, s2t), Y26/Y27 lastC/lastR, Y28 cols, Y29 twelve, Y30
// ±1e9 bound, Y31 lane numbers, Y12 the sign bit, Y14 zero, Y15 the counts, X13 the sum.
// GPRs: DI p, CX the first sample of the step, DX n, R9 cells, AX-BX/R10-
// R11 the samples' arrays.
TEXT ·agreementAVX512(SB), NOSPLIT, $32-8
	MOVQ p+0(FP), DI
	MOVQ 0(DI), AX
	MOVQ 8(DI), BX
	MOVQ 16(DI), R10
	MOVQ 24(DI), R11
	MOVQ 32(DI), DX
	MOVQ 40(DI), R9

	VBROADCASTSS 72(DI), Y16
	VBROADCASTSS 76(DI), Y17
	VBROADCASTSS 80(DI), Y18
	VBROADCASTSS 84(DI), Y19
	VBROADCASTSS 88(DI), Y20
	VBROADCASTSS 92(DI), Y21
	VBROADCASTSS 96(DI), Y22
	VBROADCASTSS 100(DI), Y23
	VBROADCASTSS 104(DI), Y24
	VBROADCASTSS 108(DI), Y25
	VPBROADCASTD 56(DI), Y26
	VPBROADCASTD 64(DI), Y27
	VPBROADCASTD 48(DI), Y28
	MOVL         $12, R8
	VPBROADCASTD R8, Y29
	MOVL         $0x4e6e6b28, R8 // 1e9
	VPBROADCASTD R8, Y30
	VMOVDQU32    ·laneNumbers32(SB), Y31
	MOVL         $0x80000000, R8
	VPBROADCASTD R8, Y12
	VPXORD       Y14, Y14, Y14
	VPXORD       Y15, Y15, Y15
	VXORPS       X13, X13, X13
	XORQ         CX, CX

loop:
	CMPQ CX, DX
	JGE  done

	// The lanes that exist.
	LANES_LEFT(DX, CX, Y31, R8, Y0, K1)
	VMOVUPS.Z    (AX)(CX*4), K1, Y1 // x
	VMOVUPS.Z    (BX)(CX*4), K1, Y2 // y

	// x' = c·x - s·y + tx - x0, y' = -(s·x + c·y + ty) - y0.
	VMULPS Y16, Y1, Y3
	VMULPS Y17, Y2, Y4
	VSUBPS Y4, Y3, Y3
	VADDPS Y18, Y3, Y3
	VSUBPS Y20, Y3, Y3
	VMULPS Y17, Y1, Y4
	VMULPS Y16, Y2, Y5
	VADDPS Y5, Y4, Y4
	VADDPS Y19, Y4, Y4
	VXORPS Y12, Y4, Y4
	VSUBPS Y21, Y4, Y4

	// col = min(max(int(x'·invX), 0), lastC), row likewise; the product
	// bounded first (it is small for any real alignment) so that the
	// conversion cannot overflow where the scalar loop's 64-bit one would not.
	VMULPS     Y22, Y3, Y3
	VMULPS     Y23, Y4, Y4
	VMINPS     Y30, Y3, Y3
	VMINPS     Y30, Y4, Y4
	VXORPS     Y5, Y5, Y5
	VSUBPS     Y30, Y5, Y5
	VMAXPS     Y5, Y3, Y3
	VMAXPS     Y5, Y4, Y4
	VCVTTPS2DQ Y3, Y3
	VCVTTPS2DQ Y4, Y4
	VPMAXSD    Y14, Y3, Y3
	VPMINSD    Y26, Y3, Y3
	VPMAXSD    Y14, Y4, Y4
	VPMINSD    Y27, Y4, Y4

	// The cell (row·cols + col), 12 bytes each.
	VPMULLD    Y28, Y4, Y4
	VPADDD     Y3, Y4, Y4
	VPMULLD    Y29, Y4, Y4
	KMOVW      K1, K2
	VXORPS     Y6, Y6, Y6
	VGATHERDPS 0(R9)(Y4*1), K2, Y6 // q.c
	KMOVW      K1, K2
	VXORPS     Y7, Y7, Y7
	VGATHERDPS 4(R9)(Y4*1), K2, Y7 // q.s
	KMOVW      K1, K2
	VXORPS     Y8, Y8, Y8
	VGATHERDPS 8(R9)(Y4*1), K2, Y8 // q.w
	VADDPS     Y8, Y15, Y15

	// term = (pc·c2t - ps·s2t)·q.c + (ps·c2t + pc·s2t)·q.s.
	VMOVUPS.Z (R10)(CX*4), K1, Y1 // pc
	VMOVUPS.Z (R11)(CX*4), K1, Y2 // ps
	VMULPS    Y24, Y1, Y3
	VMULPS    Y25, Y2, Y4
	VSUBPS    Y4, Y3, Y3
	VMULPS    Y24, Y2, Y4
	VMULPS    Y25, Y1, Y5
	VADDPS    Y5, Y4, Y4
	VMULPS    Y6, Y3, Y3
	VMULPS    Y7, Y4, Y4
	VADDPS    Y4, Y3, Y3

	// The terms, one lane after the other (lanes that do not exist add 0,
	// which changes no sum).
	VMOVUPS Y3, 0(SP)
	ADD8_SS(X13)

	ADDQ $8, CX
	JMP  loop

done:
	VMOVSS X13, 112(DI)
	VMOVUPS Y15, 0(SP)
	VXORPS  X0, X0, X0
	ADD8_SS(X0)
	VMOVSS X0, 116(DI)
	VZEROUPPER
	RET
