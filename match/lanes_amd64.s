//go:build amd64 && !purego

#include "textflag.h"

// The lane numbers 0..7, as the kernels' 32-bit (laneNumbers32) and 64-bit
// (laneNumbers64) integers: a step's lanes that exist are those below the
// number of elements left.
DATA ·laneNumbers32+0(SB)/4, $0
DATA ·laneNumbers32+4(SB)/4, $1
DATA ·laneNumbers32+8(SB)/4, $2
DATA ·laneNumbers32+12(SB)/4, $3
DATA ·laneNumbers32+16(SB)/4, $4
DATA ·laneNumbers32+20(SB)/4, $5
DATA ·laneNumbers32+24(SB)/4, $6
DATA ·laneNumbers32+28(SB)/4, $7
GLOBL ·laneNumbers32(SB), RODATA|NOPTR, $32

DATA ·laneNumbers64+0(SB)/8, $0
DATA ·laneNumbers64+8(SB)/8, $1
DATA ·laneNumbers64+16(SB)/8, $2
DATA ·laneNumbers64+24(SB)/8, $3
DATA ·laneNumbers64+32(SB)/8, $4
DATA ·laneNumbers64+40(SB)/8, $5
DATA ·laneNumbers64+48(SB)/8, $6
DATA ·laneNumbers64+56(SB)/8, $7
GLOBL ·laneNumbers64(SB), RODATA|NOPTR, $64
