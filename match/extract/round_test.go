package extract

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRoundInt checks roundInt against math.Round on half-integers, their
// neighbours and random values of the ranges it rounds.
func TestRoundInt(t *testing.T) {
	check := func(v float64) {
		if got, want := roundInt(v), int(math.Round(v)); got != want {
			t.Fatalf("roundInt(%v) = %d, want %d", v, got, want)
		}
	}
	for i := -20000; i <= 20000; i++ {
		h := float64(i) / 2
		check(h)
		check(math.Nextafter(h, math.Inf(1)))
		check(math.Nextafter(h, math.Inf(-1)))
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for range 200000 {
		check((rng.Float64() - 0.5) * 4000)
		check(rng.Float64() * 16)
	}
}
