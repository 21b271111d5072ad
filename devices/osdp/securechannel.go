package osdp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
	"fmt"
)

// Secure Channel (SIA OSDP v2.2 §5.9 and Annex D; IEC 60839-11-5).
//
// Keys. Every PD has a 16-byte Secure Channel Base Key, SCBK. A PD fresh
// from the factory knows only the default key SCBK-D (0x30..0x3F), which a
// control panel may use only in an explicit install mode to hand the PD its
// own key with osdp_KEYSET. From the SCBK and the CP's 8-byte random number
// RND.A three AES-128 session keys are derived, each the AES-ECB encryption
// under the SCBK of a block 0x01, k, RND.A[0..5], 0x00 x 8:
//
//	S-ENC  k = 0x82   data encryption
//	S-MAC1 k = 0x01   MAC, every block but the last
//	S-MAC2 k = 0x02   MAC, the last block
//
// Handshake (each message carries a 3-byte security block: length 3, type,
// and a key byte, 0x00 = SCBK-D, 0x01 = SCBK):
//
//	CP  osdp_CHLNG   SCS_11  RND.A (8)
//	PD  osdp_CCRYPT  SCS_12  cUID (8) | RND.B (8) | client cryptogram (16) = AES(S-ENC, RND.A|RND.B)
//	CP  osdp_SCRYPT  SCS_13  server cryptogram (16) = AES(S-ENC, RND.B|RND.A)
//	PD  osdp_RMAC_I  SCS_14  initial R-MAC (16) = AES(S-MAC2, AES(S-MAC1, server cryptogram)); block byte 0x01 = accepted
//
// Messages. Once the PD answered RMAC_I, every message carries a 2-byte
// security block SCS_15 (command, MAC only), SCS_16 (reply, MAC only),
// SCS_17 (command, MAC and encrypted data) or SCS_18 (reply, MAC and
// encrypted data); a message without data uses SCS_15/16. The data is
// padded with 0x80 and then 0x00 up to a multiple of 16 (the marker is
// always added) and encrypted with AES-CBC under S-ENC, the IV being the
// bitwise complement of the last MAC received from the other side. The MAC
// is AES-CBC over the message from SOM to the end of the (encrypted) data,
// with the LEN field already counting the MAC and the CRC, padded with
// 0x80 0x00... only when its length is not a multiple of 16: every block
// but the last under S-MAC1, the last under S-MAC2. The IV of a command's
// MAC is the full 16-byte MAC of the previous reply (the initial R-MAC for
// the first command), the IV of a reply's MAC the full MAC of the command
// it answers. The first 4 bytes of the MAC go on the wire, after the data
// and before the CRC.
//
// Checked against libosdp (github.com/goToMain/libosdp: src/osdp_sc.c,
// src/osdp_phy.c, src/osdp_pd.c) and verified against the SIA OSDP Annex E
// example vectors (see securechannel_test.go).

// Security block types.
const (
	SCS11 byte = 0x11 // CHLNG: CP begins the handshake
	SCS12 byte = 0x12 // CCRYPT: PD's random number and client cryptogram
	SCS13 byte = 0x13 // SCRYPT: CP's server cryptogram
	SCS14 byte = 0x14 // RMAC_I: PD's initial R-MAC; data byte 0x01 if the server cryptogram was accepted
	SCS15 byte = 0x15 // command with MAC, data in clear
	SCS16 byte = 0x16 // reply with MAC, data in clear
	SCS17 byte = 0x17 // command with MAC and encrypted data
	SCS18 byte = 0x18 // reply with MAC and encrypted data
)

// Key selectors carried in the security block of the handshake messages.
const (
	KeySCBKD byte = 0x00 // the default key SCBK-D (install mode only)
	KeySCBK  byte = 0x01 // the PD's own key SCBK
)

// KeyTypeSCBK is the key type of an osdp_KEYSET command that sets the SCBK.
const KeyTypeSCBK byte = 0x01

// MACLen is the number of MAC bytes on the wire.
const MACLen = 4

// SCBKD is the default Secure Channel Base Key of SIA OSDP v2.2, 0x30..0x3F.
// Use it only in install mode.
var SCBKD = [16]byte{0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F}

// Secure Channel errors; test with errors.Is.
var (
	// ErrBadMAC: a message's MAC does not match its contents and the
	// channel's state. It was forged, replayed, corrupted, or the two sides
	// lost step.
	ErrBadMAC = errors.New("secure channel MAC check failed")
	// ErrBadSecureMessage: the security block or the encrypted data is not
	// what a secure-channel message may carry.
	ErrBadSecureMessage = errors.New("bad secure channel message")
	// ErrBadCryptogram: a handshake cryptogram does not match, so the two
	// sides do not share the same key.
	ErrBadCryptogram = errors.New("secure channel cryptogram mismatch (the PD and the CP use different keys)")
)

// SessionKeys are the three keys of one secure session.
type SessionKeys struct {
	ENC, MAC1, MAC2 [16]byte
}

// DeriveSessionKeys derives S-ENC, S-MAC1 and S-MAC2 from the base key (16
// bytes) and the CP's random number RND.A.
func DeriveSessionKeys(scbk []byte, rndA [8]byte) (SessionKeys, error) {
	b, err := newAES(scbk)
	if err != nil {
		return SessionKeys{}, err
	}
	var k SessionKeys
	for _, d := range []struct {
		dst *[16]byte
		c   byte
	}{{&k.ENC, 0x82}, {&k.MAC1, 0x01}, {&k.MAC2, 0x02}} {
		var in [16]byte
		in[0], in[1] = 0x01, d.c
		copy(in[2:8], rndA[:6])
		b.Encrypt(d.dst[:], in[:])
	}
	return k, nil
}

func newAES(key []byte) (cipher.Block, error) {
	if len(key) != 16 {
		return nil, fmt.Errorf("osdp: secure channel key of %d bytes, expected 16 (AES-128)", len(key))
	}
	return aes.NewCipher(key)
}

// Channel is the cryptography of one secure session: the handshake
// cryptograms, and sealing and opening of messages. It keeps no chaining
// state; the caller passes the IV (the last MAC of the other side) and
// keeps the MAC each call returns. It is safe for concurrent use.
type Channel struct {
	enc, mac1, mac2 cipher.Block
	keys            SessionKeys
}

// NewChannel returns the channel for the session keys derived from scbk and
// rndA.
func NewChannel(scbk []byte, rndA [8]byte) (*Channel, error) {
	k, err := DeriveSessionKeys(scbk, rndA)
	if err != nil {
		return nil, err
	}
	c := &Channel{keys: k}
	c.enc, _ = aes.NewCipher(k.ENC[:])
	c.mac1, _ = aes.NewCipher(k.MAC1[:])
	c.mac2, _ = aes.NewCipher(k.MAC2[:])
	return c, nil
}

// Keys returns the session keys.
func (c *Channel) Keys() SessionKeys { return c.keys }

// ClientCryptogram is the PD's proof of the key: AES(S-ENC, RND.A | RND.B).
func (c *Channel) ClientCryptogram(rndA, rndB [8]byte) [16]byte {
	return c.ecb(c.enc, rndA, rndB)
}

// ServerCryptogram is the CP's proof of the key: AES(S-ENC, RND.B | RND.A).
func (c *Channel) ServerCryptogram(rndA, rndB [8]byte) [16]byte {
	return c.ecb(c.enc, rndB, rndA)
}

func (c *Channel) ecb(b cipher.Block, x, y [8]byte) [16]byte {
	var in, out [16]byte
	copy(in[:8], x[:])
	copy(in[8:], y[:])
	b.Encrypt(out[:], in[:])
	return out
}

// InitialRMAC is the R-MAC the PD sends in RMAC_I and the IV of the first
// command's MAC: AES(S-MAC2, AES(S-MAC1, server cryptogram)).
func (c *Channel) InitialRMAC(serverCryptogram [16]byte) [16]byte {
	var t, out [16]byte
	c.mac1.Encrypt(t[:], serverCryptogram[:])
	c.mac2.Encrypt(out[:], t[:])
	return out
}

// MAC computes the full 16-byte MAC of msg with the given IV: AES-CBC under
// S-MAC1 over every block but the last, the last under S-MAC2, msg padded
// with 0x80 0x00... only if its length is not a multiple of 16.
func (c *Channel) MAC(iv [16]byte, msg []byte) [16]byte {
	x := iv
	n := len(msg)
	full := n / 16
	rest := n % 16
	last := full - 1 // index of the last whole block when there is no partial block
	if rest != 0 {
		last = full
	}
	if n == 0 {
		last = 0
	}
	var blk [16]byte
	for i := 0; i <= last; i++ {
		if i < full {
			copy(blk[:], msg[i*16:i*16+16])
		} else {
			blk = [16]byte{}
			copy(blk[:], msg[i*16:])
			blk[rest] = 0x80
		}
		subtle.XORBytes(blk[:], blk[:], x[:])
		if i == last {
			c.mac2.Encrypt(x[:], blk[:])
		} else {
			c.mac1.Encrypt(x[:], blk[:])
		}
	}
	return x
}

// EncryptData pads data with 0x80 0x00... to a multiple of 16 (always adding
// the marker) and encrypts it with AES-CBC under S-ENC, the IV being the
// complement of lastMAC (the other side's last MAC). It appends the result
// to dst.
func (c *Channel) EncryptData(dst []byte, lastMAC [16]byte, data []byte) []byte {
	n := (len(data) + 1 + 15) &^ 15
	start := len(dst)
	dst = append(dst, data...)
	dst = append(dst, 0x80)
	for len(dst)-start < n {
		dst = append(dst, 0)
	}
	iv := complement(lastMAC)
	cipher.NewCBCEncrypter(c.enc, iv[:]).CryptBlocks(dst[start:], dst[start:])
	return dst
}

// DecryptData reverses EncryptData: it decrypts enc (a non-zero multiple of
// 16 bytes) and removes the padding, which must be 0x80 followed by at most
// 15 zero bytes. It appends the plaintext to dst.
func (c *Channel) DecryptData(dst []byte, lastMAC [16]byte, enc []byte) ([]byte, error) {
	if len(enc) == 0 || len(enc)%16 != 0 {
		return dst, fmt.Errorf("osdp: %w: %d encrypted data bytes, expected a non-zero multiple of 16", ErrBadSecureMessage, len(enc))
	}
	start := len(dst)
	dst = append(dst, enc...)
	iv := complement(lastMAC)
	cipher.NewCBCDecrypter(c.enc, iv[:]).CryptBlocks(dst[start:], dst[start:])
	p := dst[start:]
	i := len(p) - 1
	for i >= 0 && p[i] == 0 && len(p)-i <= 16 {
		i--
	}
	if i < 0 || p[i] != 0x80 || len(p)-i > 16 {
		return dst[:start], fmt.Errorf("osdp: %w: decrypted data does not end with the 0x80 0x00... padding", ErrBadSecureMessage)
	}
	return dst[:start+i], nil
}

func complement(b [16]byte) [16]byte {
	for i := range b {
		b[i] = ^b[i]
	}
	return b
}

// Seal turns a clear-text frame into a secure-channel message and returns
// its wire bytes and its full MAC. f.Reply selects a command (SCS_15/17) or
// a reply (SCS_16/18); data, if any, is encrypted. iv is the last MAC of
// the other side: for a command the MAC of the last reply (or the initial
// R-MAC), for a reply the MAC of the command it answers. f.SecurityBlock is
// ignored and the frame always uses the CRC.
func (c *Channel) Seal(f Frame, iv [16]byte) ([]byte, [16]byte, error) {
	return c.AppendSeal(nil, f, iv)
}

// AppendSeal is Seal appending to dst.
func (c *Channel) AppendSeal(dst []byte, f Frame, iv [16]byte) ([]byte, [16]byte, error) {
	scs := SCS15
	if f.Reply {
		scs = SCS16
	}
	var body []byte
	if len(f.Data) > 0 {
		scs += 2 // SCS_17 / SCS_18
		body = c.EncryptData(make([]byte, 0, len(f.Data)+16+MACLen), iv, f.Data)
	}
	body = append(body, 0, 0, 0, 0) // MAC placeholder
	g := Frame{Addr: f.Addr, Reply: f.Reply, Seq: f.Seq, UseCRC: true, SecurityBlock: []byte{2, scs}, Code: f.Code, Data: body}
	start := len(dst)
	out, err := g.AppendMarshal(dst)
	if err != nil {
		return dst, [16]byte{}, err
	}
	raw := out[start:]
	n := len(raw)
	mac := c.MAC(iv, raw[:n-2-MACLen])
	copy(raw[n-2-MACLen:], mac[:MACLen])
	crc := CRC16(raw[:n-2])
	raw[n-2], raw[n-1] = byte(crc), byte(crc>>8)
	return out, mac, nil
}

// IsSecureMessage tells whether f carries a SCS_15..SCS_18 security block,
// that is, a MAC'd message of an established session.
func IsSecureMessage(f Frame) bool {
	sb := f.SecurityBlock
	return len(sb) >= 2 && sb[1] >= SCS15 && sb[1] <= SCS18
}

// Open checks and decrypts a secure-channel message (a frame from Decode
// with a SCS_15..SCS_18 security block) and returns the clear-text frame
// (SecurityBlock kept, Data decrypted and without the MAC) and the full MAC
// of the message. iv is the last MAC of the other side, as for Seal. It
// fails with ErrBadSecureMessage for a malformed message and ErrBadMAC for
// a wrong MAC; it never panics and allocates at most the frame's size.
func (c *Channel) Open(f Frame, iv [16]byte) (Frame, [16]byte, error) {
	sb := f.SecurityBlock
	if len(sb) != 2 || sb[0] != 2 || sb[1] < SCS15 || sb[1] > SCS18 {
		return Frame{}, [16]byte{}, fmt.Errorf("osdp: %w: security block % X, expected 02 15..18", ErrBadSecureMessage, sb)
	}
	wantReply := sb[1] == SCS16 || sb[1] == SCS18
	if f.Reply != wantReply {
		return Frame{}, [16]byte{}, fmt.Errorf("osdp: %w: security block type 0x%02X on a %s", ErrBadSecureMessage, sb[1], map[bool]string{true: "reply", false: "command"}[f.Reply])
	}
	if len(f.Data) < MACLen {
		return Frame{}, [16]byte{}, fmt.Errorf("osdp: %w: %d bytes after the code, expected at least the %d MAC bytes", ErrBadSecureMessage, len(f.Data), MACLen)
	}
	raw, err := f.AppendMarshal(make([]byte, 0, f.Len()))
	if err != nil {
		return Frame{}, [16]byte{}, fmt.Errorf("osdp: %w: %v", ErrBadSecureMessage, err)
	}
	check := 1
	if f.UseCRC {
		check = 2
	}
	n := len(raw) - check - MACLen
	mac := c.MAC(iv, raw[:n])
	if subtle.ConstantTimeCompare(mac[:MACLen], raw[n:n+MACLen]) != 1 {
		return Frame{}, [16]byte{}, fmt.Errorf("osdp: %w (%s 0x%02X from address 0x%02X, seq %d)", ErrBadMAC, map[bool]string{true: "reply", false: "command"}[f.Reply], f.Code, f.Addr, f.Seq)
	}
	enc := f.Data[:len(f.Data)-MACLen]
	out := f
	out.Data = nil
	if sb[1] == SCS17 || sb[1] == SCS18 {
		out.Data, err = c.DecryptData(nil, iv, enc)
		if err != nil {
			return Frame{}, [16]byte{}, err
		}
	} else if len(enc) > 0 {
		out.Data = append([]byte(nil), enc...)
	}
	out.SecurityBlock = append([]byte(nil), sb...)
	return out, mac, nil
}

// ---- handshake payloads -------------------------------------------------------

// CCrypt is the osdp_CCRYPT reply: the PD's identity, its random number and
// its client cryptogram.
type CCrypt struct {
	CUID             [8]byte
	RndB             [8]byte
	ClientCryptogram [16]byte
}

// Marshal encodes CCRYPT data.
func (c CCrypt) Marshal() []byte {
	b := make([]byte, 0, 32)
	b = append(b, c.CUID[:]...)
	b = append(b, c.RndB[:]...)
	return append(b, c.ClientCryptogram[:]...)
}

// ParseCCrypt decodes CCRYPT data (32 bytes).
func ParseCCrypt(b []byte) (CCrypt, error) {
	if err := needLen("CCRYPT", b, 32); err != nil {
		return CCrypt{}, err
	}
	var c CCrypt
	copy(c.CUID[:], b[0:8])
	copy(c.RndB[:], b[8:16])
	copy(c.ClientCryptogram[:], b[16:32])
	return c, nil
}

// KeySet is the osdp_KEYSET command: a new SCBK for the PD.
type KeySet struct {
	// Type is KeyTypeSCBK.
	Type byte
	// Key is the new key, 16 bytes.
	Key []byte
}

// Marshal encodes KEYSET data: key type, key length, key.
func (k KeySet) Marshal() []byte {
	return append([]byte{k.Type, byte(len(k.Key))}, k.Key...)
}

// ParseKeySet decodes KEYSET data; the key must be 16 bytes.
func ParseKeySet(b []byte) (KeySet, error) {
	if len(b) < 2 || int(b[1]) != len(b)-2 {
		return KeySet{}, fmt.Errorf("osdp: KEYSET: %d bytes, expected type, length and that many key bytes", len(b))
	}
	if b[1] != 16 {
		return KeySet{}, fmt.Errorf("osdp: KEYSET: key of %d bytes, expected 16", b[1])
	}
	return KeySet{Type: b[0], Key: append([]byte(nil), b[2:]...)}, nil
}

// HandshakeBlock returns the 3-byte security block of a handshake message:
// length 3, type scs (SCS11..SCS14), data (the key selector, or for SCS14
// the acceptance flag).
func HandshakeBlock(scs, data byte) []byte { return []byte{3, scs, data} }
