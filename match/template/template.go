// Package template decodes and encodes fingerprint minutiae templates in the
// two interchange formats the gate accepts:
//
//   - ISO/IEC 19794-2:2005 finger minutiae record ("FMR\x00", version " 20\x00",
//     24-byte header, angles in units of 360/256 degrees);
//   - ANSI INCITS 378-2004 finger minutiae record ("FMR\x00", version " 20\x00"
//     as well, 26-byte header with a 2-byte (or 6-byte) record length and a
//     CBEFF product identifier, angles in units of 2 degrees).
//
// Both formats share the finger view layout: position, view number and
// impression type, quality, minutiae (6 bytes each: 2-bit type, 14-bit X,
// 14-bit Y, angle, quality) and an extended data area whose total length is
// given by a 2-byte field. The extended data area is kept as raw bytes: it is
// skipped by its total length and re-emitted unchanged, and Decode never
// interprets it. (Implementations disagree on whether an ISO 2005 extended
// data block's own length field counts its 4-byte header: the sample in the
// standard and the SourceAFIS encoder do it differently, so Decode does not
// depend on it.) ExtendedAreas splits it on request, reading either
// convention, and OrientationField reads ttpgate's own area; a caller that
// cannot read it can ignore it.
//
// The codecs are pure: they take and return bytes, never do I/O, never panic,
// and allocate no more than the input's size justifies. Later versions of the
// formats (ISO/IEC 19794-2:2011 and ANSI INCITS 378-2009, both "030\x00") are
// rejected with an error wrapping ErrUnsupportedVersion.
//
// Decode, then Encode in the same format, gives back the original bytes
// (without any trailing zero padding), including out-of-range angle codes,
// reserved minutia type code 3 and the raw sensor compliance bits.
package template

import (
	"errors"
	"fmt"
	"math"
)

// Format identifies an interchange format of a finger minutiae record.
type Format int

const (
	// FormatUnknown is the zero Format: a template built in memory rather than decoded.
	FormatUnknown Format = iota
	// FormatISO19794_2_2005 is ISO/IEC 19794-2:2005, record format.
	FormatISO19794_2_2005
	// FormatANSI378_2004 is ANSI INCITS 378-2004.
	FormatANSI378_2004
)

// String returns the name of the standard, e.g. "ISO/IEC 19794-2:2005".
func (f Format) String() string {
	switch f {
	case FormatUnknown:
		return "unknown format"
	case FormatISO19794_2_2005:
		return "ISO/IEC 19794-2:2005"
	case FormatANSI378_2004:
		return "ANSI INCITS 378-2004"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// MinutiaType is the 2-bit minutia type code of both standards.
type MinutiaType uint8

const (
	// MinutiaOther is code 0: a minutia of another or unknown type.
	MinutiaOther MinutiaType = 0
	// MinutiaEnding is code 1: a ridge ending.
	MinutiaEnding MinutiaType = 1
	// MinutiaBifurcation is code 2: a ridge bifurcation.
	MinutiaBifurcation MinutiaType = 2
	// MinutiaReserved is code 3, reserved by both standards. It is decoded and
	// re-encoded as is, so that a record round-trips, and matchers should treat
	// it like MinutiaOther.
	MinutiaReserved MinutiaType = 3
)

// String returns "other", "ending", "bifurcation" or "reserved".
func (t MinutiaType) String() string {
	switch t {
	case MinutiaOther:
		return "other"
	case MinutiaEnding:
		return "ending"
	case MinutiaBifurcation:
		return "bifurcation"
	case MinutiaReserved:
		return "reserved"
	}
	return fmt.Sprintf("MinutiaType(%d)", uint8(t))
}

// Finger position codes shared by ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004.
const (
	PositionUnknown     = 0
	PositionRightThumb  = 1
	PositionRightIndex  = 2
	PositionRightMiddle = 3
	PositionRightRing   = 4
	PositionRightLittle = 5
	PositionLeftThumb   = 6
	PositionLeftIndex   = 7
	PositionLeftMiddle  = 8
	PositionLeftRing    = 9
	PositionLeftLittle  = 10
)

// Impression type codes shared by ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004.
const (
	ImpressionLivePlain     = 0
	ImpressionLiveRolled    = 1
	ImpressionNonLivePlain  = 2
	ImpressionNonLiveRolled = 3
	ImpressionSwipe         = 8
	// ImpressionLiveContactless (code 9) is defined by ANSI INCITS 378-2004 only.
	ImpressionLiveContactless = 9
)

// Minutia is one minutia of a finger view.
//
// Coordinates are in pixels of the original image, origin at the upper left
// corner, X to the right and Y downwards, as in both standards.
type Minutia struct {
	// Type is the minutia type code.
	Type MinutiaType
	// X and Y are the position in pixels (14-bit values, 0..16383).
	X, Y int
	// Angle is the ridge direction in radians in [0, 2π), measured
	// counter-clockwise from the horizontal axis pointing right, as both
	// standards define it.
	Angle float64
	// RawAngle is the angle code as stored in the record (ISO: units of
	// 360/256°, ANSI: units of 2°). It is used when encoding to the format
	// the template was decoded from, as long as Angle still equals the
	// angle it denotes; otherwise Angle is rounded to the target unit.
	RawAngle int
	// Quality is the minutia quality, 0..100 per the standards (0: not
	// reported). Other byte values are kept as they are.
	Quality int
}

// Finger is one finger view of a record.
type Finger struct {
	// Position is the finger position code, 0..10 (see the Position constants).
	Position int
	// View is the 4-bit view number, 0 for the first view of a finger.
	View int
	// ImpressionType is the 4-bit impression type (see the Impression constants).
	ImpressionType int
	// Quality is the finger quality, 0..100 per the standards.
	Quality int
	// Minutiae are the view's minutiae, at most 255.
	Minutiae []Minutia
	// Extended is the raw extended data area (without its 2-byte total
	// length field); nil when the area is empty.
	Extended []byte
}

// Template is a decoded finger minutiae record.
type Template struct {
	// Format is the format the template was decoded from (FormatUnknown for
	// a template built in memory).
	Format Format
	// Width and Height are the size of the original image in pixels.
	Width, Height int
	// ResolutionX and ResolutionY are the image resolution in pixels per
	// centimetre (197 is 500 dpi).
	ResolutionX, ResolutionY int
	// SensorCompliance is the raw 4-bit capture equipment compliance field.
	// Its high bit means certified; see SensorCertified.
	SensorCompliance int
	// SensorID is the 12-bit capture equipment ID (0: unreported).
	SensorID int
	// VendorID and Subformat are the CBEFF product identifier (owner and
	// type) of ANSI INCITS 378-2004; ISO/IEC 19794-2:2005 has no such field.
	VendorID, Subformat int
	// Fingers are the finger views, at most 255.
	Fingers []Finger
}

// SensorCertified reports whether the capture equipment is certified (the
// high bit of the compliance field: ANSI INCITS 378 Appendix F, or the
// corresponding ISO certification).
func (t *Template) SensorCertified() bool { return t.SensorCompliance&0x8 != 0 }

// ErrUnsupportedVersion is wrapped by the error returned for a record whose
// version is not " 20\x00" (for example "030\x00": ISO/IEC 19794-2:2011 or
// ANSI INCITS 378-2009).
var ErrUnsupportedVersion = errors.New("template: unsupported record version")

var (
	magic   = [4]byte{'F', 'M', 'R', 0}
	version = [4]byte{' ', '2', '0', 0}
)

const (
	isoHeaderLen      = 24
	ansiHeaderLen     = 26 // with the 2-byte record length
	ansiLongHeaderLen = 30 // with the 6-byte record length
	fingerHeaderLen   = 4
	minutiaLen        = 6
	extLenLen         = 2
)

const (
	isoAngleUnit  = 2 * math.Pi / 256 // radians per ISO angle code
	ansiAngleUnit = 2 * math.Pi / 180 // radians per ANSI angle code (2°)
)

// angleFromRaw converts an angle code of format f to radians in [0, 2π).
func angleFromRaw(f Format, raw int) float64 {
	switch f {
	case FormatISO19794_2_2005:
		return float64(raw%256) * isoAngleUnit
	default:
		return float64(raw%180) * ansiAngleUnit
	}
}

// rawFromAngle rounds an angle in radians to the nearest code of format f.
func rawFromAngle(f Format, a float64) int {
	unit, n := isoAngleUnit, 256
	if f == FormatANSI378_2004 {
		unit, n = ansiAngleUnit, 180
	}
	r := int(math.Round(math.Mod(a, 2*math.Pi) / unit))
	r %= n
	if r < 0 {
		r += n
	}
	return r
}
