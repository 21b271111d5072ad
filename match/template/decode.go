package template

import (
	"encoding/binary"
	"fmt"
)

// Decode decodes an ISO/IEC 19794-2:2005 or ANSI INCITS 378-2004 record.
//
// Both formats start with "FMR\x00" " 20\x00"; they are told apart by the
// record length field that follows. ANSI has a 2-byte length of at least 26
// there (or 0x0000 followed by a 4-byte length), ISO a 4-byte length. A
// non-zero first 16-bit word therefore means ANSI if it is 26 or more (an ISO
// record would have to be longer than 1.7 MB) and ISO otherwise; a zero word
// means ISO if the next 16-bit word is at least 24 (the smallest ISO record)
// and ANSI with a 6-byte length field otherwise.
//
// Data may carry zero padding after the record (as stored by some
// encoders in fixed-size fields); any other difference between the record
// length field and len(data) is an error.
func Decode(data []byte) (*Template, error) {
	if err := checkPrefix(data); err != nil {
		return nil, err
	}
	if len(data) < 12 {
		return nil, fmt.Errorf("template: %d bytes are too short for a record header (ISO/IEC 19794-2:2005 needs %d, ANSI INCITS 378-2004 %d)", len(data), isoHeaderLen, ansiHeaderLen)
	}
	w0 := binary.BigEndian.Uint16(data[8:])
	w1 := binary.BigEndian.Uint16(data[10:])
	switch {
	case w0 >= ansiHeaderLen:
		return DecodeANSI(data)
	case w0 > 0:
		return DecodeISO(data)
	case w1 >= isoHeaderLen:
		return DecodeISO(data)
	default:
		return DecodeANSI(data)
	}
}

// checkPrefix checks the magic and the version of a record.
func checkPrefix(data []byte) error {
	if len(data) < 4 || [4]byte(data[:4]) != magic {
		n := min(len(data), 4)
		return fmt.Errorf("template: not a finger minutiae record: starts with %q, want %q", data[:n], magic[:])
	}
	if len(data) < 8 {
		return fmt.Errorf("template: %d bytes end inside the version field (a record header has at least %d bytes)", len(data), isoHeaderLen)
	}
	v := [4]byte(data[4:8])
	if v == version {
		return nil
	}
	var known string
	switch v {
	case [4]byte{'0', '3', '0', 0}:
		known = " (ISO/IEC 19794-2:2011 or ANSI INCITS 378-2009)"
	case [4]byte{'0', '2', '0', 0}:
		known = " (a typo for \" 20\", as in the sample record printed in ANSI INCITS 378-2004 itself)"
	}
	return fmt.Errorf("%w %q%s: supported is only %q (ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004)",
		ErrUnsupportedVersion, trimNUL(v[:]), known, trimNUL(version[:]))
}

func trimNUL(b []byte) string {
	if len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return string(b)
}

// DecodeISO decodes an ISO/IEC 19794-2:2005 finger minutiae record.
func DecodeISO(data []byte) (*Template, error) {
	if err := checkPrefix(data); err != nil {
		return nil, err
	}
	if len(data) < isoHeaderLen {
		return nil, fmt.Errorf("template: ISO/IEC 19794-2:2005 header needs %d bytes but %d were given", isoHeaderLen, len(data))
	}
	length := uint64(binary.BigEndian.Uint32(data[8:]))
	rec, err := recordBytes(data, length, isoHeaderLen)
	if err != nil {
		return nil, err
	}
	r := reader{buf: rec, off: 12}
	t := &Template{Format: FormatISO19794_2_2005}
	if err := decodeBody(&r, t); err != nil {
		return nil, err
	}
	return t, nil
}

// DecodeANSI decodes an ANSI INCITS 378-2004 finger minutiae record.
func DecodeANSI(data []byte) (*Template, error) {
	if err := checkPrefix(data); err != nil {
		return nil, err
	}
	if len(data) < ansiHeaderLen {
		return nil, fmt.Errorf("template: ANSI INCITS 378-2004 header needs %d bytes but %d were given", ansiHeaderLen, len(data))
	}
	length, headerLen, off := uint64(binary.BigEndian.Uint16(data[8:])), ansiHeaderLen, 10
	if length == 0 {
		if len(data) < ansiLongHeaderLen {
			return nil, fmt.Errorf("template: ANSI INCITS 378-2004 header with a 6-byte record length needs %d bytes but %d were given", ansiLongHeaderLen, len(data))
		}
		length, headerLen, off = uint64(binary.BigEndian.Uint32(data[10:])), ansiLongHeaderLen, 14
	}
	rec, err := recordBytes(data, length, headerLen)
	if err != nil {
		return nil, err
	}
	r := reader{buf: rec, off: off}
	t := &Template{Format: FormatANSI378_2004}
	t.VendorID, t.Subformat = int(r.u16()), int(r.u16())
	if err := decodeBody(&r, t); err != nil {
		return nil, err
	}
	return t, nil
}

// decodeBody decodes what ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004
// records share after their headers' lengths: equipment, image size and
// resolution, the number of finger views and a reserved byte, then the views.
func decodeBody(r *reader, t *Template) error {
	equip := r.u16()
	t.SensorCompliance = int(equip >> 12)
	t.SensorID = int(equip & 0xfff)
	t.Width, t.Height = int(r.u16()), int(r.u16())
	t.ResolutionX, t.ResolutionY = int(r.u16()), int(r.u16())
	n := int(r.u8())
	r.u8() // reserved
	return decodeFingers(r, t, n)
}

// recordBytes checks the record length field against the data and returns
// the record without any trailing zero padding.
func recordBytes(data []byte, length uint64, headerLen int) ([]byte, error) {
	if length < uint64(headerLen) {
		return nil, fmt.Errorf("template: record length field says %d bytes, less than the %d-byte header", length, headerLen)
	}
	if length > uint64(len(data)) {
		return nil, fmt.Errorf("template: record length field says %d bytes but %d were given", length, len(data))
	}
	for i, b := range data[length:] {
		if b != 0 {
			return nil, fmt.Errorf("template: record length field says %d bytes but %d were given, and byte %d after the record is 0x%02x, not zero padding", length, len(data), int(length)+i, b)
		}
	}
	return data[:length], nil
}

// decodeFingers decodes n finger views; they must fill the record exactly.
func decodeFingers(r *reader, t *Template, n int) error {
	// Every finger view takes at least 6 bytes: never allocate more views
	// than the record can hold.
	if need := n * (fingerHeaderLen + extLenLen); need > r.left() {
		return fmt.Errorf("template: header announces %d finger views, needing at least %d bytes, but the record has %d bytes left after the header", n, need, r.left())
	}
	t.Fingers = make([]Finger, n)
	for i := range t.Fingers {
		if err := decodeFinger(r, t.Format, &t.Fingers[i]); err != nil {
			return fmt.Errorf("template: finger view %d of %d: %w", i+1, n, err)
		}
	}
	if r.left() != 0 {
		return fmt.Errorf("template: the %d finger views end at byte %d but the record length field says %d bytes", n, r.off, len(r.buf))
	}
	return nil
}

func decodeFinger(r *reader, f Format, fv *Finger) error {
	if r.left() < fingerHeaderLen {
		return fmt.Errorf("header needs %d bytes at offset %d but the record has %d left", fingerHeaderLen, r.off, r.left())
	}
	fv.Position = int(r.u8())
	vi := r.u8()
	fv.View, fv.ImpressionType = int(vi>>4), int(vi&0xf)
	fv.Quality = int(r.u8())
	n := int(r.u8())
	if need := n*minutiaLen + extLenLen; need > r.left() {
		return fmt.Errorf("%d minutiae and the extended data length need %d bytes at offset %d but the record has %d left", n, need, r.off, r.left())
	}
	fv.Minutiae = make([]Minutia, n)
	for i := range fv.Minutiae {
		m := &fv.Minutiae[i]
		xw, yw := r.u16(), r.u16()
		m.Type = MinutiaType(xw >> 14)
		m.X = int(xw & 0x3fff)
		m.Y = int(yw & 0x3fff) // the top 2 bits are reserved
		m.RawAngle = int(r.u8())
		m.Angle = angleFromRaw(f, m.RawAngle)
		m.Quality = int(r.u8())
	}
	ext := int(r.u16())
	if ext > r.left() {
		return fmt.Errorf("extended data length field says %d bytes at offset %d but the record has %d left", ext, r.off-2, r.left())
	}
	if ext > 0 {
		fv.Extended = append([]byte(nil), r.bytes(ext)...)
	}
	return nil
}

// reader reads big-endian fields; callers check lengths first.
type reader struct {
	buf []byte
	off int
}

func (r *reader) left() int { return len(r.buf) - r.off }

func (r *reader) u8() uint8 {
	v := r.buf[r.off]
	r.off++
	return v
}

func (r *reader) u16() uint16 {
	v := binary.BigEndian.Uint16(r.buf[r.off:])
	r.off += 2
	return v
}

func (r *reader) bytes(n int) []byte {
	b := r.buf[r.off : r.off+n]
	r.off += n
	return b
}
