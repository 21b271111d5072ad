//go:build !amd64 || purego

package match

// haveEdgeKernel is false: there is no vector kernel for this
// architecture, and compatibilities uses its scalar loop.
const haveEdgeKernel = false

func edgesAVX512(p *edgeArgs, c *edgeKernelConsts) int {
	panic("match: no vector compatibility kernel on this architecture")
}
