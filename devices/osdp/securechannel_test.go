package osdp

import (
	"bytes"
	"crypto/aes"
	"encoding/hex"
	"errors"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func h16(t testing.TB, s string) (a [16]byte) {
	copy(a[:], unhex(t, s))
	return a
}

func h8(t testing.TB, s string) (a [8]byte) {
	copy(a[:], unhex(t, s))
	return a
}

// TestAnnexEVectors checks the key derivation, both cryptograms and the
// initial R-MAC against the worked example of the SIA OSDP specification,
// Annex E ("Examples"): SCBK-D, ACU (CP) random B0..B7, PD random A0..A7.
// The values are transcribed from libosdp's transcription of that annex,
// tests/unit-tests/test-sc-sia-vectors.c (github.com/goToMain/libosdp,
// commit 506debd2b8130e114532f74b7768be7d801b3445), test_scbkd_vectors.
func TestAnnexEVectors(t *testing.T) {
	rndA := h8(t, "b0b1b2b3b4b5b6b7")
	rndB := h8(t, "a0a1a2a3a4a5a6a7")
	k, err := DeriveSessionKeys(SCBKD[:], rndA)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		got  [16]byte
		want string
	}{
		{"S-MAC1", k.MAC1, "5e86c676603bdee2d8beafe178637332"},
		{"S-MAC2", k.MAC2, "6fda86e857777e81132035758239172e"},
		{"S-ENC", k.ENC, "bf8dc2a8329acb8c67c6d0cd9a451682"},
	} {
		if want := h16(t, stripSpaces(c.want)); c.got != want {
			t.Errorf("%s = %X, want %X", c.name, c.got, want)
		}
	}
	ch, err := NewChannel(SCBKD[:], rndA)
	if err != nil {
		t.Fatal(err)
	}
	// The spec's "host cryptogram" is the server cryptogram (CP, SCRYPT);
	// its "client cryptogram" is the PD's (CCRYPT).
	server := ch.ServerCryptogram(rndA, rndB)
	if want := h16(t, "26d3356e07762d262801fc8e6665a891"); server != want {
		t.Errorf("server cryptogram = %X, want %X", server, want)
	}
	if got, want := ch.ClientCryptogram(rndA, rndB), h16(t, "fde5d2f428ec16312471ea3c02bd7796"); got != want {
		t.Errorf("client cryptogram = %X, want %X", got, want)
	}
	if got, want := ch.InitialRMAC(server), h16(t, "b2a30057eb98ba2229ec1f875662b524"); got != want {
		t.Errorf("initial R-MAC = %X, want %X", got, want)
	}
}

func stripSpaces(s string) string { return string(bytes.ReplaceAll([]byte(s), []byte(" "), nil)) }

// NIST SP 800-38A, appendix F.2.1 (CBC-AES128.Encrypt): key, IV, four
// plaintext blocks and their ciphertext. libosdp uses the same vectors for
// its MAC tests (tests/unit-tests/test-sc.c): a MAC with S-MAC1 = S-MAC2 =
// the NIST key is the last CBC ciphertext block.
const (
	nistKey = "2b7e151628aed2a6abf7158809cf4f3c"
	nistIV  = "000102030405060708090a0b0c0d0e0f"
	nistPT  = "6bc1bee22e409f96e93d7e117393172a" + "ae2d8a571e03ac9c9eb76fac45af8e51" + "30c81c46a35ce411e5fbc1191a0a52ef" + "f69f2445df4f9b17ad2b417be66c3710"
	nistCT  = "7649abac8119b246cee98e9b12e9197d" + "5086cb9b507219ee95db113a917678b2" + "73bed6b8e3c1743b7116e69e22229516" + "3ff1caa1681fac09120eca307586e1a7"
)

// testChannel returns a channel whose three keys are all key.
func testChannel(t testing.TB, key string) *Channel {
	kb := unhex(t, key)
	c := &Channel{}
	copy(c.keys.ENC[:], kb)
	copy(c.keys.MAC1[:], kb)
	copy(c.keys.MAC2[:], kb)
	c.enc, _ = aes.NewCipher(kb)
	c.mac1, _ = aes.NewCipher(kb)
	c.mac2, _ = aes.NewCipher(kb)
	return c
}

func TestMACVectors(t *testing.T) {
	c := testChannel(t, nistKey)
	iv := h16(t, nistIV)
	pt, ct := unhex(t, nistPT), unhex(t, nistCT)
	// One block: no padding, the MAC is the first CBC block.
	if got := c.MAC(iv, pt[:16]); !bytes.Equal(got[:], ct[:16]) {
		t.Errorf("MAC of one block = %X, want %X", got, ct[:16])
	}
	// Four blocks: the last CBC block.
	if got := c.MAC(iv, pt); !bytes.Equal(got[:], ct[48:]) {
		t.Errorf("MAC of four blocks = %X, want %X", got, ct[48:])
	}
	// 15 bytes 00..0E: padded with 0x80 to one block. Expected value from
	// libosdp tests/unit-tests/test-sc.c (tv_osdp_data_ct_15b, AES-CBC of
	// 00..0E||80 under the NIST key and IV, cross-checked with OpenSSL).
	msg := unhex(t, "000102030405060708090a0b0c0d0e")
	if got, want := c.MAC(iv, msg), h16(t, "c5311f3d23d086ea86f5ee7f85247b40"); got != want {
		t.Errorf("MAC of 15 bytes = %X, want %X", got, want)
	}
}

// TestDataEncryptionVectors: libosdp tests/unit-tests/test-sc.c
// (tv_osdp_data_ct_0b/15b/16b): AES-CBC under the NIST key with the NIST IV
// over OSDP-padded data. The IV of OSDP data encryption is the complement
// of the last MAC, so the "last MAC" here is the complement of the NIST IV.
func TestDataEncryptionVectors(t *testing.T) {
	c := testChannel(t, nistKey)
	last := complement(h16(t, nistIV))
	for _, v := range []struct{ pt, ct string }{
		{"", "4c08220c79d9191022dc6674874ceaf8"},
		{"000102030405060708090a0b0c0d0e", "c5311f3d23d086ea86f5ee7f85247b40"},
		{"000102030405060708090a0b0c0d0e0f", "7df76b0c1ab899b33e42f047b91b546f" + "e2fe5bd6c1dfcdd19124f03e1a134d3b"},
	} {
		pt, ct := unhex(t, v.pt), unhex(t, v.ct)
		if got := c.EncryptData(nil, last, pt); !bytes.Equal(got, ct) {
			t.Errorf("EncryptData(% X) = % X, want % X", pt, got, ct)
		}
		got, err := c.DecryptData(nil, last, ct)
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("DecryptData(% X) = % X, %v; want % X", ct, got, err, pt)
		}
	}
	// A block without the 0x80 marker is refused (libosdp
	// test_sc_decrypt_data_invalid_marker), as is a partial block.
	zero := make([]byte, 16)
	if _, err := c.DecryptData(nil, last, zero); !errors.Is(err, ErrBadSecureMessage) {
		t.Errorf("DecryptData without marker: %v", err)
	}
	if _, err := c.DecryptData(nil, last, make([]byte, 15)); !errors.Is(err, ErrBadSecureMessage) {
		t.Errorf("DecryptData of 15 bytes: %v", err)
	}
}

// TestSealOpenChain runs a command and a reply through Seal and Open in
// both directions, with the MAC chaining the protocol uses, and checks that
// any change of the message or of the chain is refused.
func TestSealOpenChain(t *testing.T) {
	rndA, rndB := h8(t, "0102030405060708"), h8(t, "1112131415161718")
	key := unhex(t, "000102030405060708090a0b0c0d0e0f")
	cpc, _ := NewChannel(key, rndA)
	pdc, _ := NewChannel(key, rndA)
	rmac := pdc.InitialRMAC(cpc.ServerCryptogram(rndA, rndB))
	for i, cmd := range []Frame{
		{Addr: 3, Seq: 1, Code: CmdPOLL},
		{Addr: 3, Seq: 2, Code: CmdOUT, Data: Output{Number: 1, Control: OutputPulse, Timer: 50}.Marshal()},
		{Addr: 3, Seq: 3, Code: CmdTEXT, Data: bytes.Repeat([]byte{'A'}, 32)},
	} {
		raw, cmac, err := cpc.Seal(cmd, rmac)
		if err != nil {
			t.Fatal(err)
		}
		f, n, err := Decode(raw)
		if err != nil || n != len(raw) {
			t.Fatalf("Decode sealed: %v", err)
		}
		wantSCS := SCS15
		if len(cmd.Data) > 0 {
			wantSCS = SCS17
			if bytes.Contains(raw, cmd.Data) {
				t.Fatalf("command %d: data in clear on the wire", i)
			}
		}
		if f.SecurityBlock[1] != wantSCS {
			t.Fatalf("command %d: SCS 0x%02X, want 0x%02X", i, f.SecurityBlock[1], wantSCS)
		}
		got, pdCmac, err := pdc.Open(f, rmac)
		if err != nil || pdCmac != cmac || got.Code != cmd.Code || !bytes.Equal(got.Data, cmd.Data) {
			t.Fatalf("command %d: Open = %+v, %v", i, got, err)
		}
		// The same message under another chain state (a replay) fails.
		if _, _, err := pdc.Open(f, cmac); !errors.Is(err, ErrBadMAC) {
			t.Fatalf("command %d replayed: %v, want ErrBadMAC", i, err)
		}
		// Any flipped bit fails (the CRC is fixed up to get past Decode).
		for bit := 0; bit < (len(raw)-2)*8; bit += 7 {
			bad := append([]byte(nil), raw...)
			bad[bit/8] ^= 1 << (bit % 8)
			c := CRC16(bad[:len(bad)-2])
			bad[len(bad)-2], bad[len(bad)-1] = byte(c), byte(c>>8)
			bf, _, derr := Decode(bad)
			if derr != nil {
				continue
			}
			if _, _, err := pdc.Open(bf, rmac); err == nil && (bf.Addr != f.Addr || bf.Seq != f.Seq || bf.Code != f.Code || !bytes.Equal(bf.Data, f.Data)) {
				t.Fatalf("command %d with bit %d flipped opened fine", i, bit)
			}
		}
		reply := Frame{Addr: 3, Reply: true, Seq: cmd.Seq, Code: ReplyISTATR, Data: []byte{0, 1, 1, 0, 0}}
		rraw, rm, err := pdc.Seal(reply, cmac)
		if err != nil {
			t.Fatal(err)
		}
		rf, _, _ := Decode(rraw)
		if rf.SecurityBlock[1] != SCS18 {
			t.Fatalf("reply SCS 0x%02X", rf.SecurityBlock[1])
		}
		gr, rm2, err := cpc.Open(rf, cmac)
		if err != nil || rm2 != rm || !bytes.Equal(gr.Data, reply.Data) {
			t.Fatalf("reply %d: %+v %v", i, gr, err)
		}
		// A reply opened as if it were a command is refused.
		if _, _, err := cpc.Open(Frame{Addr: 3, Seq: 1, SecurityBlock: []byte{2, SCS16}, Code: ReplyACK, Data: make([]byte, 4)}, cmac); !errors.Is(err, ErrBadSecureMessage) {
			t.Fatalf("SCS_16 on a command: %v", err)
		}
		rmac = rm
	}
}

func TestKeySetAndCCryptPayloads(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 16)
	b := KeySet{Type: KeyTypeSCBK, Key: key}.Marshal()
	if len(b) != 18 || b[0] != 1 || b[1] != 16 {
		t.Fatalf("KEYSET % X", b)
	}
	k, err := ParseKeySet(b)
	if err != nil || !bytes.Equal(k.Key, key) {
		t.Fatalf("ParseKeySet: %+v %v", k, err)
	}
	if _, err := ParseKeySet(b[:10]); err == nil {
		t.Fatal("short KEYSET parsed")
	}
	cc := CCrypt{CUID: h8(t, "0001020304050607"), RndB: h8(t, "a0a1a2a3a4a5a6a7")}
	got, err := ParseCCrypt(cc.Marshal())
	if err != nil || got != cc {
		t.Fatalf("CCRYPT round trip %+v %v", got, err)
	}
}
