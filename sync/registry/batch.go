package registry

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// A batch-signed record is an envelope
//
//	{"key_id":"hq-2026a","batch":{"sig":"<base64, 64 bytes>","size":N,"index":I,
//	 "path":"<base64 of the audit path's 32-byte hashes, concatenated>"},"record":{...}}
//
// (members in this order when HQ writes it; a gate accepts any order, no
// other member, each once). sig is HQ's signature of the batch's root and
// size (merkle.go), size the number of records in the batch (1..
// MaxBatchSize), index this record's leaf (0..size-1), path its audit path
// (empty for a batch of one). Only records are batch-signed: hq.clock and
// manifests keep the single signature.

// batchProof is the decoded "batch" member of a batch envelope.
type batchProof struct {
	sig   [ed25519.SignatureSize]byte
	size  uint64
	index uint64
	path  []byte // concatenated 32-byte hashes
}

// rootCacheSize is how many signature-verified batch roots a Verifier
// remembers. Records of one batch arrive together, so a few live batches at
// a time are typical; a miss only costs one Ed25519 verification.
const rootCacheSize = 64

// rootKey identifies one verified batch signature: the key id (a Verifier's
// key ids map to fixed public keys), the root, the size and the signature
// bytes themselves, so that a hit is exactly a repeat of a verification
// that succeeded.
type rootKey struct {
	keyID string
	root  [hashSize]byte
	size  uint64
	sig   [ed25519.SignatureSize]byte
}

// rootCache is a bounded set of verified batch roots, first in first out.
// It is safe for concurrent use.
type rootCache struct {
	mu   sync.Mutex
	set  map[rootKey]struct{}
	ring [rootCacheSize]rootKey
	next int // ring slot the next entry takes (evicting what is there)

	verified atomic.Uint64 // Ed25519 verifications of batch roots (hits excluded)
	hits     atomic.Uint64 // batch envelopes whose root was found in the cache
}

func newRootCache() *rootCache { return &rootCache{set: make(map[rootKey]struct{}, rootCacheSize)} }

func (c *rootCache) has(k *rootKey) bool {
	c.mu.Lock()
	_, ok := c.set[*k]
	c.mu.Unlock()
	return ok
}

// add records k, which must have passed ed25519.Verify.
func (c *rootCache) add(k *rootKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.set[*k]; ok {
		return
	}
	if old := c.ring[c.next]; old.keyID != "" {
		delete(c.set, old)
	}
	c.ring[c.next] = *k
	c.set[*k] = struct{}{}
	c.next = (c.next + 1) % rootCacheSize
}

// verifyBatch checks that body, signed for kind and subject under keyID, is
// a leaf of the batch p describes and that HQ signed that batch's root and
// size. With v nil the proof's shape is checked (the path recomputes a root)
// but not the signature. The error is a SignatureError.
func (v *Verifier) verifyBatch(kind, subject, keyID string, body []byte, p *batchProof) error {
	root, err := rootFromPath(p.index, p.size, leafHash(kind, subject, body), p.path)
	if err != nil {
		return sigErr(kind, "batch: %v", err)
	}
	if v == nil {
		return nil
	}
	pub, ok := v.keys[keyID]
	if !ok {
		return sigErr(kind, "key id %q is not among the HQ public keys this gate trusts (%s)", keyID, strings.Join(v.KeyIDs(), ", "))
	}
	k := rootKey{keyID: keyID, root: root, size: p.size, sig: p.sig}
	if v.roots.has(&k) {
		v.roots.hits.Add(1)
		return nil
	}
	v.roots.verified.Add(1)
	if !ed25519.Verify(pub, batchMessage(root, p.size), p.sig[:]) {
		return sigErr(kind, "batch signature does not verify with HQ key %q (forged, altered, signed for another key, or a path from another batch)", keyID)
	}
	v.roots.add(&k)
	return nil
}

// parseBatchMember decodes the "batch" member of an envelope strictly:
// exactly sig, size, index and path (case-sensitive), none null.
func parseBatchMember(kind string, raw json.RawMessage) (*batchProof, error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, sigErr(kind, "batch must be an object {\"sig\":…,\"size\":…,\"index\":…,\"path\":…}")
	}
	if d := duplicateMember(raw); d != "" {
		return nil, sigErr(kind, "member %q given twice in batch: each member once", clip(d))
	}
	for name := range m {
		if name != "sig" && name != "size" && name != "index" && name != "path" {
			return nil, sigErr(kind, "unknown field %q in batch (allowed: sig, size, index, path)", clip(name))
		}
	}
	p := &batchProof{}
	var sigB64, pathB64 string
	if err := json.Unmarshal(m["sig"], &sigB64); err != nil || isNull(m["sig"]) {
		return nil, sigErr(kind, "batch.sig missing or not a string")
	}
	sig, err := strictB64.DecodeString(sigB64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, sigErr(kind, "batch.sig must be %d bytes in standard base64", ed25519.SignatureSize)
	}
	copy(p.sig[:], sig)
	if err := json.Unmarshal(m["size"], &p.size); err != nil || isNull(m["size"]) || p.size == 0 || p.size > MaxBatchSize {
		return nil, sigErr(kind, "batch.size missing or not an integer 1..%d", MaxBatchSize)
	}
	if err := json.Unmarshal(m["index"], &p.index); err != nil || isNull(m["index"]) || p.index >= p.size {
		return nil, sigErr(kind, "batch.index missing or not an integer 0..size-1 (size %d)", p.size)
	}
	if err := json.Unmarshal(m["path"], &pathB64); err != nil || isNull(m["path"]) {
		return nil, sigErr(kind, "batch.path missing or not a string")
	}
	if len(pathB64) > base64.StdEncoding.EncodedLen(16*hashSize) {
		return nil, sigErr(kind, "batch.path longer than the %d hashes of a batch of %d", 16, MaxBatchSize)
	}
	if p.path, err = strictB64.DecodeString(pathB64); err != nil {
		return nil, sigErr(kind, "batch.path must be standard base64 of 32-byte hashes")
	}
	return p, nil
}

// SignBatch signs recs as one batch (1..MaxBatchSize records) with a single
// Ed25519 signature over their Merkle tree, and returns each record's KV
// value (for Key(recs[i].UserID)), a batch envelope. Each record is
// validated and stamped schema 2 as SignRecord does.
func (s *Signer) SignBatch(recs []*Record) ([][]byte, error) {
	if len(recs) == 0 || len(recs) > MaxBatchSize {
		return nil, fmt.Errorf("registry: sign batch: %d records, want 1..%d", len(recs), MaxBatchSize)
	}
	bodies := make([][]byte, len(recs))
	leaves := make([][hashSize]byte, len(recs))
	for i, r := range recs {
		if r == nil {
			return nil, fieldErr("", "nil record (batch index %d)", i)
		}
		c := *r
		c.Schema = SchemaVersion
		body, err := c.Marshal()
		if err != nil {
			return nil, err
		}
		bodies[i] = body
		leaves[i] = leafHash(kindRecord, Key(r.UserID), body)
	}
	pathLen := auditPathLen(0, uint64(len(recs))) // the longest path (leaf 0 is in the deepest part)
	paths := make([][]byte, len(recs))
	buf := make([]byte, len(recs)*pathLen*hashSize)
	for i := range paths {
		paths[i] = buf[i*pathLen*hashSize : i*pathLen*hashSize : (i+1)*pathLen*hashSize]
	}
	root := merkleTree(leaves, paths)
	size := uint64(len(recs))
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(s.priv, batchMessage(root, size)))
	sizeStr := strconv.FormatUint(size, 10)
	out := make([][]byte, len(recs))
	for i, body := range bodies {
		var b bytes.Buffer
		path := base64.StdEncoding.EncodeToString(paths[i])
		b.Grow(len(body) + len(path) + 200)
		b.WriteString(`{"key_id":"`)
		b.WriteString(s.keyID) // ValidKeyID: no characters that need escaping
		b.WriteString(`","batch":{"sig":"`)
		b.WriteString(sig)
		b.WriteString(`","size":`)
		b.WriteString(sizeStr)
		b.WriteString(`,"index":`)
		b.WriteString(strconv.Itoa(i))
		b.WriteString(`,"path":"`)
		b.WriteString(path)
		b.WriteString(`"},"record":`)
		b.Write(body)
		b.WriteByte('}')
		out[i] = b.Bytes()
	}
	return out, nil
}

// BatchStats reports the Verifier's batch root cache: Ed25519 verifications
// of batch roots, and batch envelopes whose root was already verified.
func (v *Verifier) BatchStats() (rootsVerified, cacheHits uint64) {
	return v.roots.verified.Load(), v.roots.hits.Load()
}

// batchEnvelopeFast splits a batch envelope in SignBatch's layout, or
// returns ok false (the general decoder then decides).
func batchEnvelopeFast(kind string, data []byte, p *batchProof, pathBuf []byte) (body []byte, keyID string, ok bool) {
	s := scanner{b: data}
	s.lit(`{"key_id":`)
	kid := s.raw()
	s.lit(`,"batch":{"sig":`)
	sigB64 := s.raw()
	s.lit(`,"size":`)
	p.size = s.bigNum()
	s.lit(`,"index":`)
	p.index = s.bigNum()
	s.lit(`,"path":`)
	pathB64 := s.raw()
	s.lit(`},"`)
	s.lit(kind)
	s.lit(`":`)
	if s.bad || !fastKeyID(kid) || len(sigB64) != base64.StdEncoding.EncodedLen(ed25519.SignatureSize) ||
		p.size == 0 || p.size > MaxBatchSize || p.index >= p.size || len(pathB64) > base64.StdEncoding.EncodedLen(16*hashSize) {
		return nil, "", false
	}
	var buf [ed25519.SignatureSize + 2]byte
	if n, err := strictB64.Decode(buf[:], sigB64); err != nil || n != ed25519.SignatureSize {
		return nil, "", false
	}
	copy(p.sig[:], buf[:ed25519.SignatureSize])
	n, err := strictB64.Decode(pathBuf[:base64.StdEncoding.DecodedLen(len(pathB64))], pathB64)
	if err != nil {
		return nil, "", false
	}
	p.path = pathBuf[:n]
	if body, ok = envelopeBody(&s, data); !ok {
		return nil, "", false
	}
	return body, string(kid), true
}

// bigNum consumes a canonical non-negative integer of up to 10 digits.
func (s *scanner) bigNum() uint64 {
	if s.bad {
		return 0
	}
	var n uint64
	j := s.i
	for ; j < len(s.b) && j-s.i <= 10 && s.b[j] >= '0' && s.b[j] <= '9'; j++ {
		n = n*10 + uint64(s.b[j]-'0')
	}
	if j == s.i || j-s.i > 10 || s.b[s.i] == '0' && j-s.i > 1 {
		s.bad = true
		return 0
	}
	s.i = j
	return n
}

// fastKeyID reports whether kid is a valid key id (ValidKeyID without the
// error message).
func fastKeyID(kid []byte) bool {
	if len(kid) == 0 || len(kid) > MaxKeyIDLen {
		return false
	}
	for _, c := range kid {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
