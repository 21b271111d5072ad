//go:build amd64 && !purego

package match

import "golang.org/x/sys/cpu"

// havePairKernel says whether this CPU runs pairTablesAVX512 (AVX-512 F
// and VL). Elsewhere Prepare uses its scalar loop, which gives the same
// tables.
var havePairKernel = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL

// pairTablesAVX512 fills the distance and relative-direction tables of
// Prepare for the n cylinders whose minutiae are (x, y, a) in p.
//
//go:noescape
func pairTablesAVX512(p *pairArgs)
