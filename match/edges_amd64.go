//go:build amd64 && !purego

package match

import "golang.org/x/sys/cpu"

// haveEdgeKernel says whether this CPU runs edgesAVX512 (AVX-512 F and
// VL: gathers, masks and compress stores). Elsewhere compatibilities uses
// its scalar loop, which gives the same edges.
var haveEdgeKernel = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL

// edgesAVX512 computes the edges of compatibilitiesScalar, row by row and
// eight pairs k at a time: it writes the pairs k with r > 1e-4 and their r
// to p.kOut and p.rOut, where each row ends to p.rowEnd, and returns how
// many edges it wrote.
//
//go:noescape
func edgesAVX512(p *edgeArgs, c *edgeKernelConsts) int
