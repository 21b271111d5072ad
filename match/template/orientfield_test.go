package template

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"

	"ttpgate/match/internal/testfiles"
)

// Both ways writers count an area's length are read: the data alone (the
// ISO sample written by FingerprintIO) and the header too (SourceAFIS).
func TestExtendedAreasBothLengthConventions(t *testing.T) {
	for _, c := range []struct {
		file   string
		finger int
		typ    uint16
		data   []byte
	}{
		{"iso19794p2v2005-sample.dat", 1, 0x0221, []byte{0x01, 0x44, 0xbc, 0x36, 0x21, 0x43}},
		{"sourceafis-iso-probe.dat", 0, 0x0144, []byte{0x97}},
	} {
		tp, err := Decode(testfiles.Read(t, "templates/"+c.file))
		if err != nil {
			t.Fatal(err)
		}
		areas, err := ExtendedAreas(tp.Fingers[c.finger].Extended)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if len(areas) != 1 || areas[0].Type != c.typ || !bytes.Equal(areas[0].Data, c.data) {
			t.Errorf("%s: areas %+v, want one of type 0x%04x with % x", c.file, areas, c.typ, c.data)
		}
		if of, err := tp.Fingers[c.finger].OrientationField(); of != nil || err != nil {
			t.Errorf("%s: orientation field %v, %v; want none", c.file, of, err)
		}
	}
}

func TestExtendedAreasRejectsBrokenFraming(t *testing.T) {
	for _, c := range []struct {
		ext  []byte
		want string
	}{
		{[]byte{0x01}, "want an area header of 4"},
		{[]byte{0x00, 0x00, 0x00, 0x00}, "type 0"},
		{[]byte{0x74, 0x67, 0x00, 0x09, 0x01, 0x02}, "declares 9 data bytes"},
		{[]byte{0x74, 0x67, 0x00, 0x00, 0x05}, "want an area header of 4"},
	} {
		_, err := ExtendedAreas(c.ext)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("% x: error %v, want one saying %q", c.ext, err, c.want)
		}
	}
}

func TestOrientationFieldRoundTrip(t *testing.T) {
	of := &OrientationField{Step: 12, X0: 3, Y0: 1, Cols: 3, Rows: 2, Cells: []uint8{0, 1, 180, 91, 0, 46}}
	data, err := of.Encode()
	if err != nil {
		t.Fatal(err)
	}
	fv := Finger{Extended: AppendExtendedArea(AppendExtendedArea(nil, 0x0144, []byte{7}), OrientationFieldType, data)}
	tp := &Template{Width: 100, Height: 100, ResolutionX: 197, ResolutionY: 197, Fingers: []Finger{fv}}
	rec, err := tp.EncodeISO()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeISO(rec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := back.Fingers[0].OrientationField()
	if err != nil || !reflect.DeepEqual(got, of) {
		t.Fatalf("decoded %+v, %v; want %+v", got, err, of)
	}
	if th, ok := got.Orientation(0, 1); !ok || math.Abs(th-math.Pi/2) > 1e-12 {
		t.Errorf("cell (0, 1) = %v, %v; want π/2", th, ok)
	}
	if _, ok := got.Orientation(0, 0); ok {
		t.Error("an empty cell has an orientation")
	}
	if _, ok := got.Orientation(3, 0); ok {
		t.Error("a cell outside the box has an orientation")
	}
	for th, want := range map[float64]uint8{0: 1, math.Pi: 1, -math.Pi / 2: 91, math.Pi / 4: 46, 179.6 * math.Pi / 180: 1} {
		if got := EncodeOrientation(th); got != want {
			t.Errorf("EncodeOrientation(%v) = %d, want %d", th, got, want)
		}
	}
}

func TestDecodeOrientationFieldRejects(t *testing.T) {
	for _, c := range []struct {
		data []byte
		want string
	}{
		{[]byte{1, 12, 0}, "want a 6-byte header"},
		{[]byte{2, 12, 0, 0, 1, 1, 5}, "version 2, want 1"},
		{[]byte{1, 12, 0, 0, 2, 2, 5, 5, 5}, "3 cell bytes, want 4"},
		{[]byte{1, 12, 0, 0, 1, 1, 181}, "want 0 (none) or 1..180"},
		{[]byte{1, 0, 0, 0, 1, 1, 5}, "cell step 0 px"},
	} {
		_, err := DecodeOrientationField(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("% x: error %v, want one saying %q", c.data, err, c.want)
		}
	}
	if _, err := (&OrientationField{Step: 12, Cols: 2, Rows: 2, Cells: []uint8{1}}).Encode(); err == nil {
		t.Error("Encode accepted 1 cell value for 2x2 cells")
	}
}

// FuzzOrientationField checks that the extended data parsers never panic
// and that a field they accept encodes back to the same bytes.
func FuzzOrientationField(f *testing.F) {
	f.Add([]byte{0x74, 0x67, 0x00, 0x0a, 1, 12, 0, 0, 2, 2, 0, 1, 180, 90})
	f.Add([]byte{0x01, 0x44, 0x00, 0x05, 0x97})
	f.Fuzz(func(t *testing.T, ext []byte) {
		fv := Finger{Extended: ext}
		of, err := fv.OrientationField()
		if err != nil || of == nil {
			return
		}
		data, err := of.Encode()
		if err != nil {
			t.Fatalf("accepted field does not encode: %v", err)
		}
		again, err := DecodeOrientationField(data)
		if err != nil || !reflect.DeepEqual(again, of) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, of)
		}
	})
}
