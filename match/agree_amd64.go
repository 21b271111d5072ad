//go:build amd64 && !purego

package match

import "golang.org/x/sys/cpu"

// haveAgreementKernel says whether this CPU runs agreementAVX512 (AVX-512
// F and VL). Elsewhere agreement uses its scalar loop, which gives the same
// sums.
var haveAgreementKernel = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL

// agreementAVX512 is the scalar loop of agreement, eight sampled cells at
// a time: it sets p.sum and p.cnt to the loop's sums, the terms of p.sum
// added one by one in the loop's order.
//
//go:noescape
func agreementAVX512(p *agreementArgs)
