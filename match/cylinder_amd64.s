//go:build amd64 && !purego

#include "textflag.h"

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
