package template

import (
	"encoding/binary"
	"fmt"
	"math"
)

// ExtendedArea is one area of a finger view's extended data (ISO/IEC
// 19794-2:2005 §7.5, ANSI INCITS 378-2004 §6.6): a type code and its data.
// Types 0x0001 (ridge counts) and 0x0002 (cores and deltas) are the
// standard's; a type whose high byte is not zero (and low byte not zero) is
// vendor-defined.
type ExtendedArea struct {
	Type uint16
	Data []byte
}

// ExtendedAreas splits a finger view's extended data into its areas. Each
// area is a type code (2 bytes), a length (2 bytes) and data. Writers
// disagree on the length: most (and AppendExtendedArea) count the data
// only, SourceAFIS counts the 4-byte header too; the data is read the first
// way if that accounts for every byte exactly, else the second. It fails,
// saying where, if neither does.
func ExtendedAreas(ext []byte) ([]ExtendedArea, error) {
	var out []ExtendedArea
	err := walkAreas(ext, func(typ uint16, data []byte) bool {
		out = append(out, ExtendedArea{Type: typ, Data: data})
		return true
	})
	return out, err
}

// walkAreas calls fn for each area of ext, in order, until it returns
// false, reading the length convention ExtendedAreas describes.
func walkAreas(ext []byte, fn func(typ uint16, data []byte) bool) error {
	err := splitAreas(ext, 0, nil)
	hdr := 0
	if err != nil {
		if splitAreas(ext, 4, nil) != nil {
			return err
		}
		hdr = 4
	}
	return splitAreas(ext, hdr, fn)
}

// splitAreas checks that ext splits into areas whose length field counts
// hdr header bytes besides the data, calling fn (if not nil) for each.
func splitAreas(ext []byte, hdr int, fn func(typ uint16, data []byte) bool) error {
	for off := 0; off < len(ext); {
		if len(ext)-off < 4 {
			return fmt.Errorf("template: extended data: %d bytes left at offset %d, want an area header of 4", len(ext)-off, off)
		}
		typ := binary.BigEndian.Uint16(ext[off:])
		n := int(binary.BigEndian.Uint16(ext[off+2:])) - hdr
		if typ == 0 {
			return fmt.Errorf("template: extended data: area at offset %d has type 0 (reserved)", off)
		}
		if n < 0 || off+4+n > len(ext) {
			return fmt.Errorf("template: extended data: area 0x%04x at offset %d declares %d data bytes, %d follow", typ, off, n, len(ext)-off-4)
		}
		if fn != nil && !fn(typ, ext[off+4:off+4+n]) {
			return nil
		}
		off += 4 + n
	}
	return nil
}

// AppendExtendedArea appends an area (type code, data length, data) to a
// finger view's extended data.
func AppendExtendedArea(ext []byte, typ uint16, data []byte) []byte {
	ext = binary.BigEndian.AppendUint16(ext, typ)
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(data)))
	return append(ext, data...)
}

// OrientationFieldType is the vendor-defined extended data type of
// ttpgate's orientation field ("tg").
const OrientationFieldType = 0x7467

// OrientationField is a finger view's coarse ridge orientation field: the
// orientation of the ridges in square cells of Step pixels (at the record's
// resolution), over a box of Cols × Rows cells whose top-left cell is
// (X0, Y0) in cells. Cells[r*Cols+c] is 0 where the view holds no reliable
// ridge flow, else 1 + the orientation in degrees, 0..179, measured from the
// image's X axis towards its Y axis (downwards), as EncodeOrientation makes.
//
// Encoded (version 1): version, step, X0, Y0, Cols, Rows (one byte each),
// then the Cols × Rows cells, row by row.
type OrientationField struct {
	Step, X0, Y0, Cols, Rows int
	Cells                    []uint8
}

const orientationFieldVersion = 1

// EncodeOrientation returns the cell value of ridge orientation th, in
// radians, image coordinates (any value; taken modulo π).
func EncodeOrientation(th float64) uint8 {
	d := int(math.Round(th*180/math.Pi)) % 180
	if d < 0 {
		d += 180
	}
	return uint8(1 + d)
}

// Orientation returns the orientation of cell (c, r) of the box, in radians
// in [0, π) (image coordinates), and whether the cell has one (a cell
// outside the box or the Cells slice, or holding a value above 180, has
// none).
func (o *OrientationField) Orientation(c, r int) (float64, bool) {
	if c < 0 || r < 0 || c >= o.Cols || r >= o.Rows || r*o.Cols+c >= len(o.Cells) {
		return 0, false
	}
	v := o.Cells[r*o.Cols+c]
	if v == 0 || v > 180 {
		return 0, false
	}
	return float64(v-1) * math.Pi / 180, true
}

// Encode returns the field's extended data area contents.
func (o *OrientationField) Encode() ([]byte, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	out := []byte{orientationFieldVersion, byte(o.Step), byte(o.X0), byte(o.Y0), byte(o.Cols), byte(o.Rows)}
	return append(out, o.Cells...), nil
}

func (o *OrientationField) check() error {
	switch {
	case o.Step < 1 || o.Step > 255:
		return fmt.Errorf("template: orientation field: cell step %d px, want 1..255", o.Step)
	case o.X0 < 0 || o.X0 > 255 || o.Y0 < 0 || o.Y0 > 255:
		return fmt.Errorf("template: orientation field: box origin (%d, %d) cells, want 0..255", o.X0, o.Y0)
	case o.Cols < 0 || o.Cols > 255 || o.Rows < 0 || o.Rows > 255:
		return fmt.Errorf("template: orientation field: %dx%d cells, want at most 255x255", o.Cols, o.Rows)
	case len(o.Cells) != o.Cols*o.Rows:
		return fmt.Errorf("template: orientation field: %d cell values for %dx%d cells", len(o.Cells), o.Cols, o.Rows)
	}
	for i, v := range o.Cells {
		if v > 180 {
			return fmt.Errorf("template: orientation field: cell %d holds %d, want 0 (none) or 1..180", i, v)
		}
	}
	return nil
}

// DecodeOrientationField decodes an OrientationFieldType area's data. It
// fails, saying what was expected, on an unknown version, a length that does
// not match the box, or a cell value above 180.
func DecodeOrientationField(data []byte) (*OrientationField, error) {
	if len(data) < 6 {
		return nil, fmt.Errorf("template: orientation field: %d bytes, want a 6-byte header", len(data))
	}
	if data[0] != orientationFieldVersion {
		return nil, fmt.Errorf("template: orientation field: version %d, want %d", data[0], orientationFieldVersion)
	}
	o := &OrientationField{Step: int(data[1]), X0: int(data[2]), Y0: int(data[3]), Cols: int(data[4]), Rows: int(data[5])}
	if len(data)-6 != o.Cols*o.Rows {
		return nil, fmt.Errorf("template: orientation field: %d cell bytes, want %d for %dx%d cells", len(data)-6, o.Cols*o.Rows, o.Cols, o.Rows)
	}
	o.Cells = append([]uint8(nil), data[6:]...)
	if err := o.check(); err != nil {
		return nil, err
	}
	return o, nil
}

// OrientationField returns the view's orientation field, or nil if its
// extended data holds none; an error if the extended data or the field is
// malformed.
func (f *Finger) OrientationField() (*OrientationField, error) {
	var data []byte
	found := false
	if err := walkAreas(f.Extended, func(typ uint16, d []byte) bool {
		if typ == OrientationFieldType {
			data, found = d, true
		}
		return !found
	}); err != nil {
		return nil, err
	}
	if !found {
		return nil, nil
	}
	return DecodeOrientationField(data)
}
