package registry

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Batch signatures: a Merkle tree over many records, one Ed25519 signature
// over its root (see docs/registry.md, "Batch signatures").
//
// The tree is RFC 6962's (Certificate Transparency) Merkle Tree Hash, with
// its domain separation between leaves and inner nodes:
//
//	leaf  = SHA-256(0x00 || message)  where message is what a single signature
//	                                  covers: "ttpgate-sig-v1" 0x00 kind 0x00 subject 0x00 body
//	inner = SHA-256(0x01 || left || right)
//
// and for n > 1 leaves the left subtree holds the largest power of two
// smaller than n. HQ signs
//
//	"ttpgate-batch-v1" 0x00 root (32 bytes) || size (8 bytes, big-endian)
//
// and every record of the batch carries the signature, the tree size, its
// leaf index and its audit path (RFC 6962 §2.1.1), from which a gate
// recomputes the root (RFC 9162 §2.1.3.2).

const (
	batchDomain = "ttpgate-batch-v1"
	// MaxBatchSize is the most records one batch signature may cover. It
	// bounds an audit path to 16 hashes.
	MaxBatchSize = 1 << 16
	// DefaultSignBatch is how many records PutBatch signs under one
	// signature: a 256-record tree gives audit paths of 8 hashes (344
	// base64 characters a record) for one Ed25519 signature per 256 records.
	DefaultSignBatch = 256
)

// hashSize is the size of a tree hash (SHA-256).
const hashSize = sha256.Size

// leafHash is the tree's leaf hash of a record signed for kind and subject:
// SHA-256(0x00 || sigMessage(kind, subject, body)).
func leafHash(kind, subject string, body []byte) [hashSize]byte {
	bp := msgPool.Get().(*[]byte)
	m := appendSigMessage(append((*bp)[:0], 0x00), kind, subject, body)
	h := sha256.Sum256(m)
	*bp = m[:0]
	msgPool.Put(bp)
	return h
}

// nodeHash is an inner node: SHA-256(0x01 || left || right).
func nodeHash(left, right []byte) [hashSize]byte {
	var b [1 + 2*hashSize]byte
	b[0] = 0x01
	copy(b[1:], left)
	copy(b[1+hashSize:], right)
	return sha256.Sum256(b[:])
}

// splitPoint is the largest power of two smaller than n (n > 1).
func splitPoint(n uint64) uint64 { return 1 << (bits.Len64(n-1) - 1) }

// merkleTree returns the root of the RFC 6962 tree over leaves and appends
// each leaf's audit path (siblings from the leaf up, 32 bytes each) to
// paths[i]. len(leaves) must be at least 1 and equal len(paths).
func merkleTree(leaves [][hashSize]byte, paths [][]byte) [hashSize]byte {
	n := len(leaves)
	if n == 1 {
		return leaves[0]
	}
	k := int(splitPoint(uint64(n)))
	l := merkleTree(leaves[:k], paths[:k])
	r := merkleTree(leaves[k:], paths[k:])
	for i := range paths[:k] {
		paths[i] = append(paths[i], r[:]...)
	}
	for i := k; i < n; i++ {
		paths[i] = append(paths[i], l[:]...)
	}
	return nodeHash(l[:], r[:])
}

// auditPathLen is the number of hashes in the audit path of leaf index in a
// tree of size leaves (index < size).
func auditPathLen(index, size uint64) int {
	n := 0
	for size > 1 {
		k := splitPoint(size)
		if index < k {
			size = k
		} else {
			index, size = index-k, size-k
		}
		n++
	}
	return n
}

// rootFromPath recomputes the root of a tree of size leaves from leaf index's
// hash and its audit path (concatenated 32-byte hashes), as RFC 9162
// §2.1.3.2 does. It fails if index is not below size or the path does not
// have exactly the length the tree's shape gives that leaf.
func rootFromPath(index, size uint64, leaf [hashSize]byte, path []byte) ([hashSize]byte, error) {
	if size == 0 || size > MaxBatchSize {
		return [hashSize]byte{}, fmt.Errorf("batch size %d out of range 1..%d", size, MaxBatchSize)
	}
	if index >= size {
		return [hashSize]byte{}, fmt.Errorf("leaf index %d is not below the batch size %d", index, size)
	}
	if want := auditPathLen(index, size); len(path) != want*hashSize {
		return [hashSize]byte{}, fmt.Errorf("audit path is %d bytes, want %d hashes of %d bytes for leaf %d of %d",
			len(path), want, hashSize, index, size)
	}
	fn, sn := index, size-1
	r := leaf
	for i := 0; i < len(path); i += hashSize {
		p := path[i : i+hashSize]
		if sn == 0 { // unreachable with the length checked above
			return [hashSize]byte{}, fmt.Errorf("audit path too long")
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(p, r[:])
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r[:], p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 { // unreachable with the length checked above
		return [hashSize]byte{}, fmt.Errorf("audit path too short")
	}
	return r, nil
}

// batchMessage is what a batch signature covers:
// "ttpgate-batch-v1" 0x00 root || size (8 bytes, big-endian).
func batchMessage(root [hashSize]byte, size uint64) []byte {
	m := make([]byte, 0, len(batchDomain)+1+hashSize+8)
	m = append(m, batchDomain...)
	m = append(m, 0)
	m = append(m, root[:]...)
	return binary.BigEndian.AppendUint64(m, size)
}
