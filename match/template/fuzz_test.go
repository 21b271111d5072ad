package template

import (
	"bytes"
	"reflect"
	"testing"

	"ttpgate/match/internal/testfiles"
)

// FuzzDecode checks that Decode never panics and that whatever it accepts
// re-encodes, in the same format, to a record that decodes to the same
// template. Crashers found by `go test -fuzz` are kept in testdata/fuzz.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{
		"iso19794p2v2005-sample.dat", "ansi378v2004-sample.dat", "iso19794p2v2011-sample.dat",
		"ansi378v2009-sample.dat", "sourceafis-iso-probe.dat", "sourceafis-iso-nonmatching.dat",
	} {
		f.Add(testfiles.Read(f, "templates/"+name))
	}
	data := testfiles.Read(f, "templates/ansi378v2004-sample.dat")
	fixed := bytes.Clone(data)
	fixed[4], fixed[9] = ' ', byte(len(fixed))
	f.Add(fixed)
	f.Fuzz(func(t *testing.T, data []byte) {
		tmpl, err := Decode(data)
		if err != nil {
			if tmpl != nil {
				t.Fatalf("Decode returned both a template and error %v", err)
			}
			return
		}
		var out []byte
		var again *Template
		switch tmpl.Format {
		case FormatISO19794_2_2005:
			out, err = tmpl.EncodeISO()
			if err == nil {
				again, err = DecodeISO(out)
			}
		case FormatANSI378_2004:
			out, err = tmpl.EncodeANSI()
			if err == nil {
				again, err = DecodeANSI(out)
			}
		default:
			t.Fatalf("Decode returned format %v", tmpl.Format)
		}
		if err != nil {
			t.Fatalf("decoded template does not round-trip: %v", err)
		}
		if !reflect.DeepEqual(tmpl, again) {
			t.Fatalf("round trip changed the template:\n was %+v\n now %+v", tmpl, again)
		}
		if len(out) > len(data) {
			t.Fatalf("re-encoded record is %d bytes, longer than the %d decoded", len(out), len(data))
		}
	})
}

func BenchmarkDecodeISO(b *testing.B) {
	data := testfiles.Read(b, "templates/iso19794p2v2005-sample.dat")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeISO(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeISO(b *testing.B) {
	tmpl, err := DecodeISO(testfiles.Read(b, "templates/iso19794p2v2005-sample.dat"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tmpl.EncodeISO(); err != nil {
			b.Fatal(err)
		}
	}
}
