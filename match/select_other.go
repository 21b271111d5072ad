//go:build !amd64 || purego

package match

// haveSelectKernel is false: there is no vector kernel for this
// architecture, and selectPairs uses its heap.
const haveSelectKernel = false

func selectAVX512(p *selectArgs) int {
	panic("match: no vector selection kernel on this architecture")
}
