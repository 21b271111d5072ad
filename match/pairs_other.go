//go:build !amd64 || purego

package match

// havePairKernel is false: there is no vector kernel for this
// architecture, and Prepare uses its scalar loop.
const havePairKernel = false

func pairTablesAVX512(p *pairArgs) {
	panic("match: no vector pair-table kernel on this architecture")
}
