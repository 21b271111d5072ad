package match

import (
	"math"
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
	if n, v := g.agreement(g, id); math.Abs(v-1) > 1e-6 || n != 16 {
		t.Errorf("a field against itself: %d sampled cells, %v; want 16 (every other cell each way of 8x8) and 1", n, v)
	}
	// Turned by 90° about the box's centre: every cell lands across.
	turn := newXform(math.Pi/2, 48, -48, 48, -48)
	if _, v := g.agreement(g, turn); v != 0 {
		t.Errorf("a field against itself turned by 90°: %v, want 0", v)
	}
	// Turned by 30°: its ridges lie 30° from the other's everywhere they
	// overlap, cos 60° = 0.5.
	if _, v := g.agreement(g, newXform(math.Pi/6, 48, -48, 48, -48)); math.Abs(v-0.5) > 0.01 {
		t.Errorf("a uniform field turned by 30°: %v, want 0.5", v)
	}
	// Moved off the box: nothing overlaps.
	if n, v := g.agreement(g, newXform(0, 0, 0, 500, 0)); v != 0 || n != 0 {
		t.Errorf("disjoint fields: %d cells, %v; want none", n, v)
	}
	// A curved field (orientation growing with x) turned by 40° with its
	// orientations, at another resolution: the true transform agrees, the
	// opposite rotation does not.
	curved := &template.OrientationField{Step: 12, Cols: 10, Rows: 10, Cells: make([]uint8, 100)}
	for r := range 10 {
		for c := range 10 {
			curved.Cells[r*10+c] = template.EncodeOrientation(float64(c*15+r*4) * math.Pi / 180)
		}
	}
	turnedField, th := turnField(curved, 40), 40*math.Pi/180
	// b is recorded at 1000 dpi: 24 px cells are the same 12 px at 500 dpi.
	turnedField.Step = 24
	ga, gb := newOrientGrid(curved, 1, 1), newOrientGrid(turnedField, 0.5, 0.5)
	// A counter-clockwise turn as seen on the image is a counter-clockwise
	// turn in the matcher's frame (Y up): a's box centre onto b's.
	bc := float64(turnedField.Cols) * 12 / 2
	if n, v := ga.agreement(gb, newXform(th, 60, -60, bc, -bc)); v < 0.97 || n < 10 {
		t.Errorf("curved field against itself turned by 40°, with the true transform: %d cells, %v; want about 1", n, v)
	}
	if _, v := ga.agreement(gb, newXform(-th, 60, -60, bc, -bc)); v > 0.5 {
		t.Errorf("curved field against itself turned by 40°, with the opposite turn: %v, want far from 1", v)
	}
}

// Extended data the matcher cannot read leaves the view without a field:
// it is compared on its minutiae alone, never refused.
func TestUnreadableExtendedDataIsIgnored(t *testing.T) {
	good := single(easyImpressions(t)[[2]int{1, 1}], 0)
	other := easyImpressions(t)[[2]int{1, 2}]
	for name, ext := range map[string][]byte{
		"damaged field":  template.AppendExtendedArea(nil, template.OrientationFieldType, []byte{1, 12, 0, 0, 3, 3, 1}),
		"zero padding":   {0, 0, 0, 0},
		"truncated area": {0x01, 0x01, 0x00, 0x10, 0x01},
		"mixed lengths":  {0x01, 0x44, 0x00, 0x05, 0x97, 0x02, 0x21, 0x00, 0x01, 0x07},
	} {
		tp := single(good, 0)
		tp.Fingers[0].Extended = ext
		p, err := Prepare(tp, 0)
		if err != nil {
			t.Errorf("%s: Prepare: %v", name, err)
			continue
		}
		if p.field != nil {
			t.Errorf("%s: a field was read", name)
		}
		q := prep(t, other, 0)
		if got, want := Score(p, q), commonScale(MinutiaeScore(p, q)); got != want {
			t.Errorf("%s: Score %v, want the minutiae score on the common scale %v", name, got, want)
		}
	}
}

// Views with equal minutiae and different fields still score the same
// both ways round.
func TestSymmetricWithEqualMinutiae(t *testing.T) {
	a := single(easyImpressions(t)[[2]int{1, 1}], 0)
	a.Fingers[0].Minutiae = a.Fingers[0].Minutiae[:9]
	b := single(a, 0)
	of, err := a.Fingers[0].OrientationField()
	if err != nil || of == nil {
		t.Fatalf("field: %v, %v", of, err)
	}
	// Every third cell turned by 50°.
	turned := *of
	turned.Cells = append([]uint8(nil), of.Cells...)
	for i := 0; i < len(turned.Cells); i += 3 {
		if v := turned.Cells[i]; v != 0 {
			turned.Cells[i] = uint8(1 + (int(v)-1+50)%180)
		}
	}
	data, err := turned.Encode()
	if err != nil {
		t.Fatal(err)
	}
	b.Fingers[0].Extended = template.AppendExtendedArea(nil, template.OrientationFieldType, data)
	pa, pb := prep(t, a, 0), prep(t, b, 0)
	if ab, ba := Score(pa, pb), Score(pb, pa); ab != ba {
		t.Errorf("Score(a, b) = %v, Score(b, a) = %v", ab, ba)
	}
}

// turnField returns f turned by deg degrees on the image (counter-clockwise
// as seen, Y down) about its box centre, resampled on a grid of the same
// step large enough to hold it, nearest cell.
func turnField(f *template.OrientationField, deg float64) *template.OrientationField {
	th := deg * math.Pi / 180
	side := int(math.Ceil(math.Hypot(float64(f.Cols), float64(f.Rows)))) + 1
	out := &template.OrientationField{Step: f.Step, Cols: side, Rows: side, Cells: make([]uint8, side*side)}
	cx, cy := float64(f.Cols)/2, float64(f.Rows)/2
	ox, oy := float64(side)/2, float64(side)/2
	for r := range side {
		for c := range side {
			// Centre of the output cell, back to the input by the inverse turn.
			x, y := float64(c)+0.5-ox, float64(r)+0.5-oy
			sx := x*math.Cos(th) - y*math.Sin(th) + cx
			sy := x*math.Sin(th) + y*math.Cos(th) + cy
			o, ok := f.Orientation(int(math.Floor(sx)), int(math.Floor(sy)))
			if !ok || sx < 0 || sy < 0 {
				continue
			}
			out.Cells[r*side+c] = template.EncodeOrientation(o - th)
		}
	}
	return out
}

// commonScale maps row to row: the two tables must have the same false
// match rates, and thresholds that rise as the rate falls.
func TestCalibrationTablesShareRows(t *testing.T) {
	if len(calibration) != len(calibrationMinutiae) {
		t.Fatalf("%d rows against %d", len(calibration), len(calibrationMinutiae))
	}
	for i := range calibration {
		if calibration[i].fmr != calibrationMinutiae[i].fmr {
			t.Errorf("row %d: FMR %g against %g", i, calibration[i].fmr, calibrationMinutiae[i].fmr)
		}
		if i > 0 && !(calibration[i].threshold > calibration[i-1].threshold && calibrationMinutiae[i].threshold > calibrationMinutiae[i-1].threshold) {
			t.Errorf("row %d: thresholds do not rise", i)
		}
	}
}
