package match

import (
	"errors"
	"fmt"
	"sync"

	"ttpgate/match/template"
)

// Matcher verifies a probe against the enrolled templates of one user.
// The zero Matcher uses DefaultThreshold.
type Matcher struct {
	// Threshold is the score at and above which a probe matches; zero,
	// negative or NaN means DefaultThreshold (a threshold of zero would
	// accept everyone). Use ThresholdForFMR to choose it from a target
	// false match rate.
	Threshold float64
}

func (m Matcher) threshold() float64 {
	if !(m.Threshold > 0) {
		return DefaultThreshold
	}
	return m.Threshold
}

// Verify compares every finger view of probe with every finger view of the
// enrolled templates of one user (1:1 verification, the card names the
// user) and returns the best score and whether it reaches the threshold.
// The probe is prepared once for all the candidates. It fails if probe has
// no finger view, enrolled is empty, or a template cannot be prepared; the
// error names the template and finger view. A probe without enough usable
// minutiae is no error: it scores 0 and does not match.
func (m Matcher) Verify(probe *template.Template, enrolled []*template.Template) (best float64, matched bool, err error) {
	if probe == nil || len(probe.Fingers) == 0 {
		return 0, false, errors.New("match: the probe template has no finger view")
	}
	if len(enrolled) == 0 {
		return 0, false, errors.New("match: no enrolled template to verify against")
	}
	probes := make([]*Prepared, len(probe.Fingers))
	for i := range probe.Fingers {
		if probes[i], err = Prepare(probe, i); err != nil {
			return 0, false, fmt.Errorf("match: probe: %w", err)
		}
	}
	var cands []*Prepared
	for e, t := range enrolled {
		if t == nil {
			return 0, false, fmt.Errorf("match: enrolled template %d is nil", e)
		}
		for f := range t.Fingers {
			c, err := Prepare(t, f)
			if err != nil {
				return 0, false, fmt.Errorf("match: enrolled template %d: %w", e, err)
			}
			cands = append(cands, c)
		}
	}
	best, matched = m.VerifyPrepared(probes, cands)
	return best, matched, nil
}

// VerifyPrepared is Verify on views prepared beforehand (for example
// enrolled templates prepared when the registry was loaded): the best score
// of any probe view against any candidate, and whether it reaches the
// threshold. Nil entries score 0.
func (m Matcher) VerifyPrepared(probe, candidates []*Prepared) (best float64, matched bool) {
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	for _, c := range candidates {
		for _, p := range probe {
			best = max(best, s.score(p, c))
		}
	}
	return best, best >= m.threshold()
}

// scratchPool recycles comparisons' working memory between verifications.
var scratchPool = sync.Pool{New: func() any { return new(scratch) }}
