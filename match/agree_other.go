//go:build !amd64 || purego

package match

// haveAgreementKernel is false: there is no vector kernel for this
// architecture, and agreement uses its scalar loop.
const haveAgreementKernel = false

func agreementAVX512(p *agreementArgs) {
	panic("match: no vector field agreement kernel on this architecture")
}
