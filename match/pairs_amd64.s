//go:build amd64 && !purego

#include "textflag.h"
#include "kernels_amd64.h"

// func pairTablesAVX512(p *pairArgs)
//
// Prepare's loop over the pairs u < v of cylinders, row u eight pairs v
// at a time, in float64 as the scalar loop (geom.FastAtan2's operations
// in its order, its branches as masks, angleDelta's loops as two masked
// steps each way): dist[u][v] and rel[u][v] stored along the row,
// dist[v][u] and rel[v][u] scattered down the column.
// Constants: Z23 |x| mask, Z24 sign bit, Z25-Z27 the polynomial's
// coefficients, Z28 π/2, Z29 π, Z30 2π, Z31 -π, Z19 zero. Per row: Z20-Z22
// u's x, y and direction, Y17 u. Y18 n, Y16 lane numbers.
// GPRs: DI p, SI the constants, R11 u, R12 n, CX j (the step's first pair
// in the row), DX the row's length, R8 the step's first v, R13 u·n.
TEXT ·pairTablesAVX512(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), DI
	MOVQ 48(DI), SI
	MOVQ 40(DI), R12
	XORQ R11, R11

	VPBROADCASTQ 0(SI), Z23
	VPBROADCASTQ 8(SI), Z24
	VPBROADCASTQ 16(SI), Z25
	VPBROADCASTQ 24(SI), Z26
	VPBROADCASTQ 32(SI), Z27
	VPBROADCASTQ 40(SI), Z28
	VPBROADCASTQ 48(SI), Z29
	VPBROADCASTQ 56(SI), Z30
	VPBROADCASTQ 64(SI), Z31
	VPXORQ       Z19, Z19, Z19
	VPBROADCASTD R12, Y18
	VMOVDQU32    ·laneNumbers32(SB), Y16

row:
	MOVQ R12, DX
	SUBQ R11, DX
	DECQ DX
	JLE  done

	MOVQ         0(DI), R9
	VPBROADCASTQ (R9)(R11*8), Z20
	MOVQ         8(DI), R9
	VPBROADCASTQ (R9)(R11*8), Z21
	MOVQ         16(DI), R9
	VPBROADCASTQ (R9)(R11*8), Z22
	VPBROADCASTD R11, Y17
	MOVQ         R11, R13
	IMULQ        R12, R13
	XORQ         CX, CX

step:
	// The lanes that exist, and their v.
	LANES_LEFT(DX, CX, Y16, R9, Y0, K1)
	LEAQ         1(R11)(CX*1), R8
	MOVQ         0(DI), R9
	VMOVUPD.Z    (R9)(R8*8), K1, Z0
	MOVQ         8(DI), R9
	VMOVUPD.Z    (R9)(R8*8), K1, Z1
	MOVQ         16(DI), R9
	VMOVUPD.Z    (R9)(R8*8), K1, Z2

	// The column entries' indices: v·n + u.
	VPBROADCASTD R8, Y7
	VPADDD       Y16, Y7, Y7
	VPMULLD      Y18, Y7, Y7
	VPADDD       Y17, Y7, Y7

	// dist = float32(√(dx² + dy²)).
	VSUBPD    Z20, Z0, Z3
	VSUBPD    Z21, Z1, Z4
	VMULPD    Z3, Z3, Z5
	VMULPD    Z4, Z4, Z6
	VADDPD    Z6, Z5, Z5
	VSQRTPD   Z5, Z5
	VCVTPD2PS Z5, Y5
	MOVQ      24(DI), R9
	LEAQ      (R9)(R13*4), R10
	VMOVUPS   Y5, K1, (R10)(R8*4)
	KMOVW     K1, K2
	VSCATTERDPS Y5, K2, (R9)(Y7*4)

	// e = FastAtan2(dy, dx).
	VPANDQ   Z23, Z3, Z8
	VPANDQ   Z23, Z4, Z9
	VCMPPD   $0x00, Z19, Z8, K3
	VCMPPD   $0x00, Z19, Z9, K4
	KANDW    K4, K3, K3
	VMINPD   Z9, Z8, Z10
	VMAXPD   Z9, Z8, Z11
	VDIVPD   Z11, Z10, Z12
	VMULPD   Z12, Z12, Z13
	VMULPD   Z13, Z25, Z14
	VADDPD   Z26, Z14, Z14
	VMULPD   Z13, Z14, Z14
	VSUBPD   Z27, Z14, Z14
	VMULPD   Z13, Z14, Z14
	VMULPD   Z12, Z14, Z14
	VADDPD   Z12, Z14, Z14
	VCMPPD   $0x1e, Z8, Z9, K4
	VSUBPD   Z14, Z28, K4, Z14
	VCMPPD   $0x11, Z19, Z3, K4
	VSUBPD   Z14, Z29, K4, Z14
	VCMPPD   $0x11, Z19, Z4, K4
	VPXORQ   Z24, Z14, K4, Z14
	VMOVAPD  Z19, K3, Z14

	// rel[u][v] = float32(angleDelta(ang[u], e)).
	VSUBPD    Z22, Z14, Z15
	ANGLE_DELTA_PD(Z15, Z31, Z29, Z30, K4)
	VCVTPD2PS Z15, Y15
	MOVQ      32(DI), R9
	LEAQ      (R9)(R13*4), R10
	VMOVUPS   Y15, K1, (R10)(R8*4)

	// rel[v][u] = float32(angleDelta(ang[v], e + π)).
	VADDPD    Z29, Z14, Z15
	VSUBPD    Z2, Z15, Z15
	ANGLE_DELTA_PD(Z15, Z31, Z29, Z30, K4)
	VCVTPD2PS Z15, Y15
	KMOVW     K1, K2
	VSCATTERDPS Y15, K2, (R9)(Y7*4)

	ADDQ $8, CX
	CMPQ CX, DX
	JLT  step

	INCQ R11
	JMP  row

done:
	VZEROUPPER
	RET
