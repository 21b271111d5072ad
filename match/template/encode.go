package template

import (
	"encoding/binary"
	"fmt"
	"math"
)

// EncodeISO encodes t as an ISO/IEC 19794-2:2005 record. VendorID and
// Subformat, which that format lacks, are dropped. It fails, naming the
// field, if a value does not fit its field.
func (t *Template) EncodeISO() ([]byte, error) {
	return t.encode(FormatISO19794_2_2005)
}

// EncodeANSI encodes t as an ANSI INCITS 378-2004 record, with a 2-byte
// record length field when the record is shorter than 65536 bytes and a
// 6-byte one otherwise. It fails, naming the field, if a value does not fit
// its field.
func (t *Template) EncodeANSI() ([]byte, error) {
	return t.encode(FormatANSI378_2004)
}

func (t *Template) encode(f Format) ([]byte, error) {
	if err := t.validate(f); err != nil {
		return nil, err
	}
	body := 0
	for i := range t.Fingers {
		fv := &t.Fingers[i]
		body += fingerHeaderLen + minutiaLen*len(fv.Minutiae) + extLenLen + len(fv.Extended)
	}
	var out []byte
	switch f {
	case FormatISO19794_2_2005:
		total := isoHeaderLen + body
		if total > math.MaxUint32 {
			return nil, fmt.Errorf("template: record would be %d bytes, more than the 4-byte length field allows", total)
		}
		out = make([]byte, 0, total)
		out = append(out, magic[:]...)
		out = append(out, version[:]...)
		out = binary.BigEndian.AppendUint32(out, uint32(total))
	case FormatANSI378_2004:
		total := ansiHeaderLen + body
		if total > math.MaxUint16 {
			total = ansiLongHeaderLen + body
		}
		if total > math.MaxUint32 {
			return nil, fmt.Errorf("template: record would be %d bytes, more than the 6-byte length field allows", total)
		}
		out = make([]byte, 0, total)
		out = append(out, magic[:]...)
		out = append(out, version[:]...)
		if total <= math.MaxUint16 {
			out = binary.BigEndian.AppendUint16(out, uint16(total))
		} else {
			out = binary.BigEndian.AppendUint16(out, 0)
			out = binary.BigEndian.AppendUint32(out, uint32(total))
		}
		out = binary.BigEndian.AppendUint16(out, uint16(t.VendorID))
		out = binary.BigEndian.AppendUint16(out, uint16(t.Subformat))
	}
	out = binary.BigEndian.AppendUint16(out, uint16(t.SensorCompliance<<12|t.SensorID))
	out = binary.BigEndian.AppendUint16(out, uint16(t.Width))
	out = binary.BigEndian.AppendUint16(out, uint16(t.Height))
	out = binary.BigEndian.AppendUint16(out, uint16(t.ResolutionX))
	out = binary.BigEndian.AppendUint16(out, uint16(t.ResolutionY))
	out = append(out, byte(len(t.Fingers)), 0)
	for i := range t.Fingers {
		fv := &t.Fingers[i]
		out = append(out, byte(fv.Position), byte(fv.View<<4|fv.ImpressionType), byte(fv.Quality), byte(len(fv.Minutiae)))
		for _, m := range fv.Minutiae {
			out = binary.BigEndian.AppendUint16(out, uint16(m.Type)<<14|uint16(m.X))
			out = binary.BigEndian.AppendUint16(out, uint16(m.Y))
			out = append(out, byte(t.rawAngle(f, m)), byte(m.Quality))
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(fv.Extended)))
		out = append(out, fv.Extended...)
	}
	return out, nil
}

// rawAngle returns the angle code of m in format f: the decoded code if the
// template came from f and Angle was not changed since, else Angle rounded.
func (t *Template) rawAngle(f Format, m Minutia) int {
	if t.Format == f && m.RawAngle >= 0 && m.RawAngle <= 255 &&
		math.Abs(angleFromRaw(f, m.RawAngle)-m.Angle) < 1e-9 {
		return m.RawAngle
	}
	return rawFromAngle(f, m.Angle)
}

func checkRange(name string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("template: %s is %d, want %d..%d", name, v, lo, hi)
	}
	return nil
}

// validate checks that every value of t fits its field in format f.
func (t *Template) validate(f Format) error {
	if f == FormatANSI378_2004 {
		if err := checkRange("VendorID", t.VendorID, 0, math.MaxUint16); err != nil {
			return err
		}
		if err := checkRange("Subformat", t.Subformat, 0, math.MaxUint16); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		name      string
		v, lo, hi int
	}{
		{"SensorCompliance", t.SensorCompliance, 0, 15},
		{"SensorID", t.SensorID, 0, 0xfff},
		{"Width", t.Width, 0, math.MaxUint16},
		{"Height", t.Height, 0, math.MaxUint16},
		{"ResolutionX", t.ResolutionX, 0, math.MaxUint16},
		{"ResolutionY", t.ResolutionY, 0, math.MaxUint16},
		{"number of finger views", len(t.Fingers), 0, 255},
	} {
		if err := checkRange(c.name, c.v, c.lo, c.hi); err != nil {
			return err
		}
	}
	for i := range t.Fingers {
		fv := &t.Fingers[i]
		for _, c := range []struct {
			name      string
			v, lo, hi int
		}{
			{"Position", fv.Position, 0, 255},
			{"View", fv.View, 0, 15},
			{"ImpressionType", fv.ImpressionType, 0, 15},
			{"Quality", fv.Quality, 0, 255},
			{"number of minutiae", len(fv.Minutiae), 0, 255},
			{"extended data length", len(fv.Extended), 0, math.MaxUint16},
		} {
			if c.v < c.lo || c.v > c.hi {
				return fmt.Errorf("template: finger view %d: %s is %d, want %d..%d", i+1, c.name, c.v, c.lo, c.hi)
			}
		}
		for j, m := range fv.Minutiae {
			if err := checkMinutia(m); err != nil {
				return fmt.Errorf("template: finger view %d, minutia %d: %w", i+1, j+1, err)
			}
		}
	}
	return nil
}

// checkMinutia checks that the values of m fit their fields in a record.
func checkMinutia(m Minutia) error {
	switch {
	case m.Type > MinutiaReserved:
		return fmt.Errorf("Type is %d, want 0..3", m.Type)
	case m.X < 0 || m.X > 0x3fff:
		return fmt.Errorf("X is %d, want 0..16383", m.X)
	case m.Y < 0 || m.Y > 0x3fff:
		return fmt.Errorf("Y is %d, want 0..16383", m.Y)
	case m.Quality < 0 || m.Quality > 255:
		return fmt.Errorf("Quality is %d, want 0..255", m.Quality)
	case math.IsNaN(m.Angle) || math.IsInf(m.Angle, 0):
		return fmt.Errorf("Angle is %v, want a finite number of radians", m.Angle)
	}
	return nil
}
