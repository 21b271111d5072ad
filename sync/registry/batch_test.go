package registry

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// refMTH is RFC 6962 §2.1's Merkle Tree Hash written from the definition,
// over raw leaf data, for comparison with merkleTree.
func refMTH(d [][]byte) [32]byte {
	switch len(d) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return sha256.Sum256(append([]byte{0}, d[0]...))
	}
	k := 1
	for k*2 < len(d) {
		k *= 2
	}
	l, r := refMTH(d[:k]), refMTH(d[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

func leavesOf(d [][]byte) [][hashSize]byte {
	out := make([][hashSize]byte, len(d))
	for i, x := range d {
		out[i] = sha256.Sum256(append([]byte{0}, x...))
	}
	return out
}

// The tree is RFC 6962's: the test vectors of the CT reference
// implementations (certificate-transparency, trillian).
func TestMerkleRFC6962Vectors(t *testing.T) {
	var data [][]byte
	for _, h := range []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"} {
		b, _ := hex.DecodeString(h)
		data = append(data, b)
	}
	roots := []string{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	for n := 1; n <= len(data); n++ {
		got := merkleTree(leavesOf(data[:n]), make([][]byte, n))
		if hex.EncodeToString(got[:]) != roots[n-1] {
			t.Errorf("root of the first %d leaves = %x, want %s", n, got, roots[n-1])
		}
	}
}

// Every leaf's audit path recomputes the root, for every tree size, and has
// the length the shape gives; the path does not prove another position.
func TestMerkleAuditPaths(t *testing.T) {
	sizes := []int{}
	for n := 1; n <= 70; n++ {
		sizes = append(sizes, n)
	}
	sizes = append(sizes, 255, 256, 257, 1000)
	for _, n := range sizes {
		data := make([][]byte, n)
		for i := range data {
			data[i] = fmt.Appendf(nil, "leaf %d", i)
		}
		leaves := leavesOf(data)
		paths := make([][]byte, n)
		root := merkleTree(leaves, paths)
		if root != refMTH(data) {
			t.Fatalf("size %d: root differs from RFC 6962's MTH", n)
		}
		for i := range leaves {
			if len(paths[i]) != auditPathLen(uint64(i), uint64(n))*hashSize {
				t.Fatalf("size %d leaf %d: path %d bytes, want %d hashes", n, i, len(paths[i]), auditPathLen(uint64(i), uint64(n)))
			}
			got, err := rootFromPath(uint64(i), uint64(n), leaves[i], paths[i])
			if err != nil || got != root {
				t.Fatalf("size %d leaf %d: path does not give the root: %v", n, i, err)
			}
			// The same leaf and path at another index. (In a tree of another
			// size the same path may give the same root: leaf 0 of 3 and of 4
			// hash alike. That is why the batch signature covers the size.)
			for _, alt := range [][2]uint64{{uint64(i) + 1, uint64(n)}, {uint64(i) ^ 1, uint64(n)}} {
				if alt[0] == uint64(i) || alt[0] >= uint64(n) {
					continue
				}
				if got, err := rootFromPath(alt[0], alt[1], leaves[i], paths[i]); err == nil && got == root {
					t.Fatalf("size %d leaf %d: path also proves leaf %d of %d", n, i, alt[0], alt[1])
				}
			}
			// Another leaf with this leaf's path.
			if n > 1 {
				if got, _ := rootFromPath(uint64(i), uint64(n), leaves[(i+1)%n], paths[i]); got == root {
					t.Fatalf("size %d leaf %d: path proves leaf %d too", n, i, (i+1)%n)
				}
			}
		}
	}
}

func batchRecords(n int) []*Record {
	base := fastTestRecords()[0]
	out := make([]*Record, n)
	for i := range out {
		r := *base
		r.UserID = fmt.Sprintf("U%07d", i)
		r.Cards = []Card{{Number: fmt.Sprintf("9%011d", i), Status: CardActive, Issued: MustParseDate("2025-01-10"), Expires: MustParseDate("2028-01-09")}}
		r.Updated = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Microsecond)
		out[i] = &r
	}
	return out
}

func TestSignBatchRoundTrip(t *testing.T) {
	hq := testSigner(t, "hq")
	for _, n := range []int{1, 2, 3, 300} {
		v := verifierOf(t, hq)
		recs := batchRecords(n)
		vals, err := hq.SignBatch(recs)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range recs {
			if _, ok := openRecordFast(Key(r.UserID), r.UserID, vals[i], v); !ok {
				t.Fatalf("n=%d: fast path refused record %d: %s", n, i, vals[i][:200])
			}
			got, err := OpenRecord(Key(r.UserID), vals[i], v)
			if err != nil {
				t.Fatalf("n=%d record %d: %v", n, i, err)
			}
			want, _ := schema2(r).Marshal()
			if b, _ := got.Marshal(); !bytes.Equal(b, want) {
				t.Fatalf("n=%d record %d: got %s", n, i, b)
			}
		}
		verified, hits := v.BatchStats()
		if verified != 1 || hits != uint64(2*n-1) {
			t.Fatalf("n=%d: %d root verifications and %d cache hits, want 1 and %d", n, verified, hits, 2*n-1)
		}
	}
	if _, err := hq.SignBatch(nil); err == nil {
		t.Fatal("empty batch signed")
	}
	bad := batchRecords(2)
	bad[1].Cards = nil
	if _, err := hq.SignBatch(bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid record in a batch: %v", err)
	}
}

// schema2 returns a copy of r with schema 2, as SignBatch writes it.
func schema2(r *Record) *Record {
	c := *r
	c.Schema = SchemaVersion
	return &c
}

// replaceBatch returns val with its "batch" member replaced by other's.
func replaceBatch(t *testing.T, val, other []byte) []byte {
	t.Helper()
	member := func(b []byte) []byte {
		i, j := bytes.Index(b, []byte(`"batch":`)), bytes.Index(b, []byte(`},"record":`))
		if i < 0 || j < 0 {
			t.Fatalf("not a batch envelope: %s", b)
		}
		return b[i : j+1]
	}
	return bytes.Replace(val, member(val), member(other), 1)
}

func TestBatchEnvelopeRejects(t *testing.T) {
	hq, forger, stranger := testSigner(t, "hq"), testSigner(t, "hq"), testSigner(t, "other")
	v := verifierOf(t, hq)
	recs := batchRecords(5)
	vals, _ := hq.SignBatch(recs)
	otherVals, _ := hq.SignBatch(batchRecords(5)[1:]) // another batch of HQ's, same key, other shape
	forged, _ := forger.SignBatch(recs)
	untrusted, _ := stranger.SignBatch(recs)
	key0 := Key(recs[0].UserID)
	// Warm the cache with the genuine batch: every case below must fail
	// even though its batch root (when it is the genuine one) is cached.
	for i, r := range recs {
		if _, err := OpenRecord(Key(r.UserID), vals[i], v); err != nil {
			t.Fatal(err)
		}
	}
	pathOf := func(val []byte) string {
		i := bytes.Index(val, []byte(`"path":"`)) + len(`"path":"`)
		return string(val[i : i+bytes.IndexByte(val[i:], '"')])
	}
	p0 := pathOf(vals[0])
	raw, _ := base64.StdEncoding.DecodeString(p0)
	flipped := bytes.Clone(raw)
	flipped[5] ^= 0x80
	sig0 := func() string {
		i := bytes.Index(vals[0], []byte(`"sig":"`)) + len(`"sig":"`)
		return string(vals[0][i : i+88])
	}()
	altered := "A" + sig0[1:]
	if sig0[0] == 'A' {
		altered = "B" + sig0[1:]
	}
	sub := func(old, new string) []byte {
		if !bytes.Contains(vals[0], []byte(old)) {
			t.Fatalf("%q not in the value", old)
		}
		return bytes.Replace(vals[0], []byte(old), []byte(new), 1)
	}
	cases := []struct {
		name, key string
		val       []byte
		want      string
	}{
		{"moved to another user's key", Key(recs[1].UserID), vals[0], ""},
		{"record of another user under this key", key0, vals[1], ""},
		{"modified body", key0, sub(`"status":"active"`, `"status":"revoked"`), "batch signature does not verify"},
		{"forged path", key0, sub(p0, base64.StdEncoding.EncodeToString(flipped)), "batch signature does not verify"},
		{"path from another batch", key0, replaceBatch(t, vals[0], otherVals[0]), "batch signature does not verify"},
		{"another leaf's path", key0, replaceBatch(t, vals[0], vals[1]), ""},
		{"index changed", key0, sub(`"index":0`, `"index":4`), "audit path is 96 bytes, want 1 hashes"},
		{"index changed, same path length", key0, sub(`"index":0`, `"index":2`), "batch signature does not verify"},
		{"size changed", key0, sub(`"size":5`, `"size":6`), "batch signature does not verify"},
		{"index not below size", key0, sub(`"index":0`, `"index":5`), "index"},
		{"size zero", key0, sub(`"size":5`, `"size":0`), "batch.size"},
		{"size too big", key0, sub(`"size":5`, `"size":65537`), "batch.size"},
		{"negative index", key0, sub(`"index":0`, `"index":-1`), "batch.index"},
		{"index null", key0, sub(`"index":0`, `"index":null`), "batch.index"},
		{"path one hash short", key0, sub(p0, base64.StdEncoding.EncodeToString(raw[32:])), "audit path is 64 bytes, want 3 hashes"},
		{"path not base64", key0, sub(p0, "!!!!"), "batch.path must be standard base64"},
		{"path unpadded", Key(recs[4].UserID), bytes.Replace(vals[4], []byte(pathOf(vals[4])), []byte(strings.TrimRight(pathOf(vals[4]), "=")), 1),
			"batch.path must be standard base64"},
		{"sig not base64", key0, sub(sig0, strings.Repeat("*", 88)), "batch.sig must be 64 bytes"},
		{"sig short", key0, sub(sig0, "AAAA"), "batch.sig must be 64 bytes"},
		{"sig altered", key0, sub(sig0, altered), "batch signature does not verify"},
		{"forged under the trusted key id", key0, forged[0], "batch signature does not verify"},
		{"unknown key id", key0, untrusted[0], `key id "other" is not among the HQ public keys`},
		{"both sig and batch", key0, sub(`"batch":{`, `"sig":"`+sig0+`","batch":{`), "both sig and batch"},
		{"unknown member in batch", key0, sub(`"index":0`, `"index":0,"x":1`), `unknown field "x" in batch`},
		{"member name case", key0, sub(`"index":0`, `"Index":0`), `unknown field "Index" in batch`},
		{"batch not an object", key0, []byte(`{"key_id":"hq","batch":[],"record":{}}`), "batch must be an object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := OpenRecord(c.key, c.val, v)
			if err == nil || !errors.Is(err, ErrInvalid) || !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an ErrSignature containing %q", err, c.want)
			}
			if uid, ok := UserIDFromKey(c.key); ok {
				if _, ok := openRecordFast(c.key, uid, c.val, v); ok {
					t.Fatal("fast path accepted it")
				}
			}
		})
	}
	// hq.clock and manifests do not take batch signatures.
	clock := []byte(`{"key_id":"hq","batch":{"sig":"` + sig0 + `","size":1,"index":0,"path":""},"clock":{"time":"2026-01-01T00:00:00Z"}}`)
	if _, err := OpenClock(clock, v); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "must carry its own signature") {
		t.Fatalf("batch-signed clock: %v", err)
	}
}

// Only roots whose signature checked enter the cache, and the cache is
// bounded.
func TestBatchRootCache(t *testing.T) {
	hq, forger := testSigner(t, "hq"), testSigner(t, "hq")
	v := verifierOf(t, hq)
	recs := batchRecords(3)
	forged, _ := forger.SignBatch(recs)
	for range 3 {
		if _, err := OpenRecord(Key(recs[0].UserID), forged[0], v); err == nil {
			t.Fatal("forged batch accepted")
		}
	}
	if verified, hits := v.BatchStats(); verified < 3 || hits != 0 {
		t.Fatalf("a failed root entered the cache: %d verifications, %d hits", verified, hits)
	}
	var first []byte
	for i := range rootCacheSize + 1 {
		r := *recs[0]
		r.Updated = r.Updated.Add(time.Duration(i) * time.Second) // another root each time
		val, _ := hq.SignBatch([]*Record{&r})
		if i == 0 {
			first = val[0]
		}
		if _, err := OpenRecord(Key(recs[0].UserID), val[0], v); err != nil {
			t.Fatal(err)
		}
	}
	v.roots.mu.Lock()
	n := len(v.roots.set)
	v.roots.mu.Unlock()
	if n != rootCacheSize {
		t.Fatalf("cache holds %d roots, want at most %d", n, rootCacheSize)
	}
	before, _ := v.BatchStats()
	if _, err := OpenRecord(Key(recs[0].UserID), first, v); err != nil {
		t.Fatal(err)
	}
	if after, _ := v.BatchStats(); after != before+1 {
		t.Fatal("the oldest root was not evicted")
	}
}

// The fast path never accepts a batch envelope the general decoder refuses.
func TestBatchFastNeverLooser(t *testing.T) {
	hq := testSigner(t, "hq")
	v := verifierOf(t, hq)
	recs := batchRecords(3)
	vals, _ := hq.SignBatch(recs)
	val := vals[2]
	key := Key(recs[2].UserID)
	for p := range val {
		b := bytes.Clone(val)
		b[p] ^= 0x01
		if _, ok := openRecordFast(key, recs[2].UserID, b, v); ok {
			if _, err := OpenRecord(key, b, v); err != nil {
				t.Fatalf("byte %d: fast path accepted what the general path refuses: %v", p, err)
			}
		}
	}
	// The general decoder accepts other member orders and white space.
	loose := bytes.Replace(val, []byte(`{"key_id":"hq","batch":`), []byte(`{ "batch" :`), 1)
	loose = bytes.Replace(loose, []byte(`},"record":`), []byte(`}, "key_id":"hq", "record":`), 1)
	if _, err := OpenRecord(key, loose, v); err != nil {
		t.Fatalf("reordered envelope: %v", err)
	}
}

func FuzzOpenBatchRecord(f *testing.F) {
	hq, _ := GenerateSigner("hq")
	v, _ := verifierFor(hq)
	recs := batchRecords(3)
	recs[1].UserID = "U0000001"
	vals, _ := hq.SignBatch(recs)
	want, _ := schema2(recs[1]).Marshal()
	for _, val := range vals {
		f.Add(val)
	}
	one, _ := hq.SignBatch(recs[1:2])
	f.Add(one[0])
	f.Add([]byte(`{"key_id":"hq","batch":{"sig":"","size":1,"index":0,"path":""},"record":{}}`))
	f.Add([]byte(`{"key_id":"hq","batch":null,"record":null}`))
	junk := make([]byte, 32)
	rand.Read(junk)
	f.Add([]byte(`{"key_id":"hq","batch":{"sig":"AAAA","size":3,"index":1,"path":"` + base64.StdEncoding.EncodeToString(junk) + `"},"record":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, vv := range []*Verifier{v, nil} {
			rec, err := OpenRecord(Key("U0000001"), data, vv)
			if err != nil {
				if rec != nil || !errors.Is(err, ErrInvalid) {
					t.Fatalf("bad error contract: %v %v", rec, err)
				}
				continue
			}
			if err := rec.Validate(); err != nil {
				t.Fatal(err)
			}
			if rec.UserID != "U0000001" {
				t.Fatalf("accepted a record for another user")
			}
			if vv != nil {
				// Verified: it can only be the record HQ signed for this key.
				if got, _ := rec.Marshal(); !bytes.Equal(got, want) {
					t.Fatalf("accepted a record HQ did not sign: %s", got)
				}
			}
		}
	})
}

// verifierFor is a Verifier trusting s.
func verifierFor(s *Signer) (*Verifier, error) {
	return NewVerifier(map[string]ed25519.PublicKey{s.KeyID(): s.PublicKey()})
}
