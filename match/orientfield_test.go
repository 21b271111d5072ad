package match

import (
	"math"
	"strings"
	"testing"

	"ttpgate/match/template"
)

// The field term adds at most fieldWeight, and that is below every
// calibrated threshold: no pair matches on its ridge flow alone.
func TestRidgeFlowAloneNeverMatches(t *testing.T) {
	// The configuration allows false match rates of 1e-3 and below.
	if th := ThresholdForFMR(1e-3); fieldWeight >= th {
		t.Fatalf("fieldWeight %v reaches the threshold for FMR 1e-3, %v", fieldWeight, th)
	}
	set := easyImpressions(t)
	for f := 1; f <= 8; f++ {
		own := set[[2]int{f, 1}]
		other := set[[2]int{f%8 + 1, 2}]
		// Another finger's minutiae with this finger's own ridge flow.
		forged := single(other, 0)
		forged.Fingers[0].Extended = own.Fingers[0].Extended
		a, b := prep(t, own, 0), prep(t, forged, 0)
		if a.field == nil || b.field == nil {
			t.Fatalf("finger %d: extracted templates without an orientation field", f)
		}
		s, s0 := Score(a, b), MinutiaeScore(a, b)
		if s > s0+fieldWeight+1e-12 {
			t.Errorf("finger %d: Score %.4f exceeds the minutiae score %.4f by more than %v", f, s, s0, fieldWeight)
		}
		if s >= DefaultThreshold {
			t.Errorf("finger %d: another finger's minutiae with its own ridge flow score %.4f, at or above DefaultThreshold %.4f", f, s, DefaultThreshold)
		}
	}
}

// commonScale puts the minutiae-only thresholds onto the fused ones, row
// by row, and is increasing from 0 to 1.
func TestCommonScale(t *testing.T) {
	for i, r := range calibrationMinutiae {
		if got, want := commonScale(r.threshold), calibration[i].threshold; math.Abs(got-want) > 1e-12 {
			t.Errorf("row %d (FMR %g): commonScale(%v) = %v, want %v", i, r.fmr, r.threshold, got, want)
		}
	}
	if commonScale(0) != 0 || commonScale(1) != 1 {
		t.Errorf("commonScale(0) = %v, commonScale(1) = %v; want 0 and 1", commonScale(0), commonScale(1))
	}
	prev := 0.0
	for s := 0.0005; s <= 1; s += 0.0005 {
		if c := commonScale(s); !(c > prev) || c > 1 {
			t.Fatalf("commonScale(%v) = %v after %v: not increasing within [0, 1]", s, c, prev)
		} else {
			prev = c
		}
	}
}

// A view without a field is compared on its minutiae alone, put on the
// common scale: its decision at DefaultThreshold is the minutiae-only
// calibration's at the same false match rate.
func TestViewsWithoutFieldUseTheirOwnCalibration(t *testing.T) {
	set := easyImpressions(t)
	a, b := set[[2]int{3, 1}], set[[2]int{3, 2}]
	bare := single(b, 0)
	bare.Fingers[0].Extended = nil
	pa, pb := prep(t, a, 0), prep(t, bare, 0)
	s0 := MinutiaeScore(pa, pb)
	if got := Score(pa, pb); got != commonScale(s0) {
		t.Fatalf("Score %v, want commonScale(MinutiaeScore) = %v", got, commonScale(s0))
	}
	if (Score(pa, pb) >= DefaultThreshold) != (s0 >= thresholdIn(calibrationMinutiae, DefaultFMR)) {
		t.Errorf("decision on the common scale differs from the minutiae calibration's")
	}
}

func TestFieldAgreement(t *testing.T) {
	of := &template.OrientationField{Step: 12, Cols: 8, Rows: 8, Cells: make([]uint8, 64)}
	for i := range of.Cells {
		of.Cells[i] = 31 // 30°
	}
	g := newOrientGrid(of, 1, 1)
	id := newXform(0, 0, 0, 0, 0)
	if v := g.agreement(g, id); math.Abs(v-1) > 1e-6 {
		t.Errorf("a field against itself: %v, want 1", v)
	}
	// Turned by 90° about the box's centre: every cell lands across.
	turn := newXform(math.Pi/2, 48, -48, 48, -48)
	if v := g.agreement(g, turn); v != 0 {
		t.Errorf("a field against itself turned by 90°: %v, want 0", v)
	}
	// Turned by 30°: its ridges lie 30° from the other's everywhere they
	// overlap, cos 60° = 0.5.
	if v := g.agreement(g, newXform(math.Pi/6, 48, -48, 48, -48)); math.Abs(v-0.5) > 0.01 {
		t.Errorf("a uniform field turned by 30°: %v, want 0.5", v)
	}
	// Moved off the box: nothing overlaps.
	if v := g.agreement(g, newXform(0, 0, 0, 500, 0)); v != 0 {
		t.Errorf("disjoint fields: %v, want 0", v)
	}
}

func TestPrepareRejectsMalformedField(t *testing.T) {
	tp := single(easyImpressions(t)[[2]int{1, 1}], 0)
	tp.Fingers[0].Extended = template.AppendExtendedArea(nil, template.OrientationFieldType, []byte{1, 12, 0, 0, 3, 3, 1})
	_, err := Prepare(tp, 0)
	if err == nil || !strings.Contains(err.Error(), "orientation field") {
		t.Fatalf("Prepare: %v; want an error about the orientation field", err)
	}
}
