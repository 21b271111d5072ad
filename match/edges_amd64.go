//go:build amd64 && !purego

package match

import "golang.org/x/sys/cpu"

// haveEdgeKernel says whether this CPU runs edgeRowAVX512 (AVX-512 F and
// VL: gathers, masks and compress stores). Elsewhere compatibilities uses
// its scalar loop, which gives the same edges.
var haveEdgeKernel = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL

// edgeRowAVX512 computes row t of the compatibilities (see compatibilities)
// eight pairs k at a time: it writes the pairs k with r > 1e-4 and their r
// to p.kOut and p.rOut and returns how many it wrote (at most p.n).
//
//go:noescape
func edgeRowAVX512(p *edgeRowArgs, c *edgeKernelConsts) int
