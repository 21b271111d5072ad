package osdp

import "fmt"

// Card numbers. A RAW reply carries bits; the gate looks cards up by a
// string. CardNumber supports two encodings:
//
//   - Digits: format RawFormatUnspecified with a multiple of 8 bits whose
//     bytes are all ASCII decimal digits '0'-'9': the number is those digits.
//     This is the skeleton's convention for the registered-user cards (and
//     what the simulated reader sends); a real reader configured to output
//     the card's printed number in ASCII produces the same thing.
//   - 26-bit Wiegand, HID H10301 (any format byte, Bits == 26): bit 0 is even
//     parity over bits 1-12, bits 1-8 the facility code, bits 9-24 the card
//     number, bit 25 odd parity over bits 13-24. The number is
//     "FFFCCCCC": facility and card in decimal, zero-padded to 3 and 5
//     digits (for example "01801234"), so it is a valid registry card number.

// CardNumber turns RAW card data into the card number string the registry
// uses; see the encodings above. Other formats are an error naming what was
// received.
func CardNumber(r RawCard) (string, error) {
	if want := (int(r.Bits) + 7) / 8; len(r.Data) != want {
		return "", fmt.Errorf("osdp: card number: %d data bytes for %d bits, expected %d", len(r.Data), r.Bits, want)
	}
	if r.Bits == 26 {
		fac, card, err := DecodeH10301(r.Data)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%03d%05d", fac, card), nil
	}
	if r.Format == RawFormatUnspecified && r.Bits > 0 && r.Bits%8 == 0 {
		for i, c := range r.Data {
			if c < '0' || c > '9' {
				return "", fmt.Errorf("osdp: card number: byte %d is 0x%02X, expected an ASCII digit (raw-digits encoding)", i, c)
			}
		}
		return string(r.Data), nil
	}
	return "", fmt.Errorf("osdp: card number: format 0x%02X with %d bits, expected 26-bit Wiegand H10301 or format 0x00 with ASCII digits", r.Format, r.Bits)
}

// EncodeDigitsCard returns the RAW data the skeleton's card reader sends for
// a card number made of decimal digits (1 to 32 of them).
func EncodeDigitsCard(reader byte, number string) (RawCard, error) {
	if len(number) == 0 || len(number) > 32 {
		return RawCard{}, fmt.Errorf("osdp: card number %q: %d digits, expected 1-32", number, len(number))
	}
	for i := 0; i < len(number); i++ {
		if number[i] < '0' || number[i] > '9' {
			return RawCard{}, fmt.Errorf("osdp: card number %q: expected decimal digits only", number)
		}
	}
	return RawCard{Reader: reader, Format: RawFormatUnspecified, Bits: uint16(8 * len(number)), Data: []byte(number)}, nil
}

// EncodeH10301 returns 26-bit Wiegand H10301 RAW data for a facility code and
// card number, with both parity bits set.
func EncodeH10301(reader, facility byte, card uint16) RawCard {
	v := uint32(facility)<<17 | uint32(card)<<1 // bits 1-24 of 26, bit 25 at the LSB
	// Bit i of the 26-bit string (MSB first) is bit 25-i of v.
	if ones(v>>13&0xFFF)%2 == 1 { // even parity over bits 1-12
		v |= 1 << 25
	}
	if ones(v>>1&0xFFF)%2 == 0 { // odd parity over bits 13-24
		v |= 1
	}
	w := v << 6 // left-align 26 bits in 32
	return RawCard{Reader: reader, Format: RawFormatWiegand, Bits: 26, Data: []byte{byte(w >> 24), byte(w >> 16), byte(w >> 8), byte(w)}}
}

// DecodeH10301 decodes 4 bytes of 26-bit Wiegand H10301 bits (first bit in
// the MSB of the first byte) into facility code and card number, checking
// both parity bits.
func DecodeH10301(data []byte) (facility byte, card uint16, err error) {
	if len(data) != 4 {
		return 0, 0, fmt.Errorf("osdp: H10301: %d bytes, expected 4 (26 bits)", len(data))
	}
	w := uint32(data[0])<<24 | uint32(data[1])<<16 | uint32(data[2])<<8 | uint32(data[3])
	v := w >> 6
	if ones(v>>13&0x1FFF)%2 != 0 {
		return 0, 0, fmt.Errorf("osdp: H10301: even parity over bits 0-12 fails")
	}
	if ones(v&0x1FFF)%2 != 1 {
		return 0, 0, fmt.Errorf("osdp: H10301: odd parity over bits 13-25 fails")
	}
	return byte(v >> 17), uint16(v >> 1), nil
}

func ones(v uint32) int {
	n := 0
	for ; v != 0; v &= v - 1 {
		n++
	}
	return n
}
