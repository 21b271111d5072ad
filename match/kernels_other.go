//go:build !amd64 || purego

package match

// There are no vector kernels for this architecture (or the purego tag
// asks for none): the matcher runs its scalar loops, and the kernels'
// functions are never called.
const (
	haveAVX512         = false
	haveAVX512Popcount = false
)

func windowAllAVX512(p *windowArgs) int {
	panic("match: no vector kernels on this architecture")
}

func edgesAVX512(p *edgeArgs, c *edgeKernelConsts) int {
	panic("match: no vector kernels on this architecture")
}

func agreementAVX512(p *agreementArgs) {
	panic("match: no vector kernels on this architecture")
}

func selectAVX512(p *selectArgs) int {
	panic("match: no vector kernels on this architecture")
}

func sectionBitsAVX512(acc *[cylND][cylNS * cylNS]float32, mu float32, out *[cylND]uint64) {
	panic("match: no vector kernels on this architecture")
}

func accumulateAVX512(acc *[cylND][cylNS * cylNS]float32, nb *nbrArrays, n int, mask uint64, c *accumConsts) {
	panic("match: no vector kernels on this architecture")
}

func neighboursAVX512(p *nbrArgs) int {
	panic("match: no vector kernels on this architecture")
}

func edgeCellsAVX512(hb, hi, hj float64) uint64 {
	panic("match: no vector kernels on this architecture")
}

func pairTablesAVX512(p *pairArgs) {
	panic("match: no vector kernels on this architecture")
}
