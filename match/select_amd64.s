//go:build amd64 && !purego

#include "textflag.h"
#include "kernels_amd64.h"

// func selectAVX512(p *selectArgs) int
//
// Each step: the smallest of the rows' heads (p.heads, padded with all
// ones to a multiple of eight rows). All ones: no key left, done. Else its
// row a and column b: if b is free, the pair is selected, b taken and the
// row done (its head all ones); if b is taken, the row's head moves to its
// next key, or the row is done.
// GPRs: DI p, SI heads, R12 rows, R13 pairs wanted, R8 pairs selected,
// R11 the next pair's place, AX the key, BX a, DX b, CX/R9/R10 scratch.
TEXT ·selectAVX512(SB), NOSPLIT, $0-16
	MOVQ  p+0(FP), DI
	MOVQ  0(DI), SI
	MOVQ  8(DI), R12
	MOVQ  56(DI), R13
	MOVQ  48(DI), R11
	XORQ  R8, R8
	TESTQ R13, R13
	JLE   done
	TESTQ R12, R12
	JLE   done

step:
	VPTERNLOGQ $0xff, Z0, Z0, Z0
	XORQ       CX, CX

minblock:
	VPMINUQ (SI)(CX*8), Z0, Z0
	ADDQ    $8, CX
	CMPQ    CX, R12
	JLT     minblock

	HMIN_UQ(Z0, Y0, X0, Z1, Y1, X1, AX)
	CMPQ          AX, $-1
	JEQ           done

	MOVQ AX, BX
	SHRQ $16, BX
	ANDQ $0xffff, BX
	MOVQ AX, DX
	ANDQ $0xffff, DX
	MOVQ 40(DI), R9
	CMPB (R9)(DX*1), $0
	JNE  taken

	// Selected: (a, b, similarity), b taken, the row done.
	MOVB $1, (R9)(DX*1)
	MOVQ $-1, (SI)(BX*8)
	MOVQ AX, R10
	SHRQ $32, R10
	NOTL R10
	MOVL BX, 0(R11)
	MOVL DX, 4(R11)
	MOVL R10, 8(R11)
	ADDQ $12, R11
	INCQ R8
	CMPQ R8, R13
	JLT  step
	JMP  done

taken:
	// The row's next key, if it has one.
	MOVQ 16(DI), R9
	MOVL (R9)(BX*4), R10
	INCL R10
	MOVL R10, (R9)(BX*4)
	MOVQ 24(DI), CX
	CMPL R10, 4(CX)(BX*4)
	JGE  rowdone
	MOVQ 32(DI), CX
	MOVQ (CX)(R10*8), R10
	MOVQ R10, (SI)(BX*8)
	JMP  step

rowdone:
	MOVQ $-1, (SI)(BX*8)
	JMP  step

done:
	MOVQ R8, ret+8(FP)
	VZEROUPPER
	RET
