package registry

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// HQ signs everything a gate trusts from the bucket and the snapshot store
// with Ed25519: user records, hq.clock and snapshot manifests. A signed value
// is an envelope
//
//	{"key_id":"hq-2026a","sig":"<base64 of 64 bytes>","record":{...}}
//
// whose third member is named after the kind of its body ("record", "clock"
// or "manifest"). The signature covers the body's bytes exactly as they
// appear in the envelope, so no JSON canonicalisation is needed:
//
//	"ttpgate-sig-v1" 0x00 kind 0x00 subject 0x00 body
//
// where subject is the KV key ("user.U0000001", "hq.clock") or, for a
// manifest, the snapshot bucket's name. Binding the key stops a signed record
// from being replayed under another key, and the kind stops a body of one
// kind from passing as another.

// Envelope kinds.
const (
	kindRecord   = "record"
	kindClock    = "clock"
	kindManifest = "manifest"
	sigDomain    = "ttpgate-sig-v1"
	// MaxKeyIDLen is the longest key id: 1..32 of [A-Za-z0-9_.-].
	MaxKeyIDLen = 32
)

// ErrSignature is wrapped by every error that reports a missing, malformed or
// wrong HQ signature, or a key id the gate does not trust. Such errors also
// wrap ErrInvalid.
var ErrSignature = errors.New("bad or missing HQ signature")

// SignatureError reports why a signed value was refused.
type SignatureError struct {
	Kind    string // "record", "clock" or "manifest"
	Problem string
}

// Error implements error.
func (e *SignatureError) Error() string { return "registry " + e.Kind + ": signature: " + e.Problem }

// Unwrap makes errors.Is true for both ErrSignature and ErrInvalid.
func (e *SignatureError) Unwrap() []error { return []error{ErrSignature, ErrInvalid} }

func sigErr(kind, format string, args ...any) error {
	return &SignatureError{Kind: kind, Problem: fmt.Sprintf(format, args...)}
}

// ValidKeyID reports whether id is a valid signing key id: 1..32 letters,
// digits, '_', '.' or '-'.
func ValidKeyID(id string) error {
	if id == "" || len(id) > MaxKeyIDLen {
		return fmt.Errorf("key id must be 1..%d characters, got %d", MaxKeyIDLen, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("key id must contain only letters, digits, '_', '.' and '-', got %q at offset %d", rune(c), i)
		}
	}
	return nil
}

// Signer is an HQ signing key: an Ed25519 private key and its key id.
type Signer struct {
	keyID string
	priv  ed25519.PrivateKey
}

// NewSigner returns a Signer for priv under keyID.
func NewSigner(keyID string, priv ed25519.PrivateKey) (*Signer, error) {
	if err := ValidKeyID(keyID); err != nil {
		return nil, fmt.Errorf("registry: signer: %w", err)
	}
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("registry: signer: private key must be %d bytes, got %d", ed25519.PrivateKeySize, len(priv))
	}
	return &Signer{keyID: keyID, priv: priv}, nil
}

// GenerateSigner makes a new random signing key with the given id.
func GenerateSigner(keyID string) (*Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("registry: generate key: %w", err)
	}
	return NewSigner(keyID, priv)
}

// KeyID returns the signer's key id.
func (s *Signer) KeyID() string { return s.keyID }

// PublicKey returns the signer's public key.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.priv.Public().(ed25519.PublicKey) }

// PublicKeyString returns the public key as gates configure it:
// "<key id>:<standard base64 of the 32-byte key>".
func (s *Signer) PublicKeyString() string {
	return s.keyID + ":" + base64.StdEncoding.EncodeToString(s.PublicKey())
}

// keyFile is the JSON form of a private key file.
type keyFile struct {
	Type  string `json:"type"`
	KeyID string `json:"key_id"`
	Seed  string `json:"seed"`
}

const keyFileType = "ttpgate-hq-signing-key-v1"

// MarshalPrivate encodes the private key for a key file (keep it 0600).
func (s *Signer) MarshalPrivate() []byte {
	b, _ := json.Marshal(keyFile{Type: keyFileType, KeyID: s.keyID, Seed: base64.StdEncoding.EncodeToString(s.priv.Seed())})
	return append(b, '\n')
}

// ParseSigner decodes a private key file written by MarshalPrivate.
func ParseSigner(data []byte) (*Signer, error) {
	var kf keyFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kf); err != nil {
		return nil, fmt.Errorf("registry: key file: want a JSON object {\"type\":%q,\"key_id\":...,\"seed\":...}", keyFileType)
	}
	if kf.Type != keyFileType {
		return nil, fmt.Errorf("registry: key file: type %q, want %q", clip(kf.Type), keyFileType)
	}
	seed, err := base64.StdEncoding.Strict().DecodeString(kf.Seed)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("registry: key file: seed must be %d bytes in standard base64", ed25519.SeedSize)
	}
	return NewSigner(kf.KeyID, ed25519.NewKeyFromSeed(seed))
}

// LoadSigner reads a private key file. It refuses a file that group or
// others may read.
func LoadSigner(path string) (*Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("registry: signing key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("registry: signing key %s: mode %v lets others read it; chmod 600", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("registry: signing key: %w", err)
	}
	s, err := ParseSigner(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Verifier holds the HQ public keys a gate trusts, by key id. Several keys
// may be trusted at once, which is how HQ rotates its key: gates get the new
// key in their config, HQ starts signing with it and re-signs the registry,
// then the old key is removed from the gates' config.
type Verifier struct {
	keys  map[string]ed25519.PublicKey
	roots *rootCache // batch roots whose signature checked (batch.go)
}

// NewVerifier returns a Verifier trusting keys (key id → public key).
func NewVerifier(keys map[string]ed25519.PublicKey) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, errors.New("registry: verifier: no HQ public keys")
	}
	v := &Verifier{keys: make(map[string]ed25519.PublicKey, len(keys)), roots: newRootCache()}
	for id, k := range keys {
		if err := ValidKeyID(id); err != nil {
			return nil, fmt.Errorf("registry: verifier: %q: %w", clip(id), err)
		}
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("registry: verifier: key %s must be %d bytes, got %d", id, ed25519.PublicKeySize, len(k))
		}
		v.keys[id] = append(ed25519.PublicKey(nil), k...)
	}
	return v, nil
}

// ParsePublicKeys returns a Verifier from a config map of key id → standard
// base64 of the 32-byte Ed25519 public key.
func ParsePublicKeys(m map[string]string) (*Verifier, error) {
	keys := make(map[string]ed25519.PublicKey, len(m))
	for id, s := range m {
		k, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(s))
		if err != nil || len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("registry: HQ public key %q: want standard base64 of %d bytes", clip(id), ed25519.PublicKeySize)
		}
		keys[id] = k
	}
	return NewVerifier(keys)
}

// ParsePublicKey decodes "<key id>:<base64>" as PublicKeyString prints it.
func ParsePublicKey(s string) (keyID string, key ed25519.PublicKey, err error) {
	id, b64, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return "", nil, fmt.Errorf("registry: public key: want \"<key id>:<base64>\"")
	}
	v, err := ParsePublicKeys(map[string]string{id: b64})
	if err != nil {
		return "", nil, err
	}
	return id, v.keys[id], nil
}

// KeyIDs returns the trusted key ids, sorted.
func (v *Verifier) KeyIDs() []string {
	ids := make([]string, 0, len(v.keys))
	for id := range v.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// sigMessage is the message a single signature covers (appendSigMessage).
func sigMessage(kind, subject string, body []byte) []byte {
	return appendSigMessage(make([]byte, 0, len(sigDomain)+len(kind)+len(subject)+len(body)+3), kind, subject, body)
}

// appendSigMessage appends the signed message of body for kind and subject
// to dst: the one layout every signature and batch leaf covers.
func appendSigMessage(dst []byte, kind, subject string, body []byte) []byte {
	dst = append(dst, sigDomain...)
	dst = append(dst, 0)
	dst = append(dst, kind...)
	dst = append(dst, 0)
	dst = append(dst, subject...)
	dst = append(dst, 0)
	return append(dst, body...)
}

// seal wraps body (compact JSON) in a signed envelope.
func (s *Signer) seal(kind, subject string, body []byte) []byte {
	sig := ed25519.Sign(s.priv, sigMessage(kind, subject, body))
	var b bytes.Buffer
	b.Grow(len(body) + 160)
	b.WriteString(`{"key_id":"`)
	b.WriteString(s.keyID) // ValidKeyID: no characters that need escaping
	b.WriteString(`","sig":"`)
	b.WriteString(base64.StdEncoding.EncodeToString(sig))
	b.WriteString(`","`)
	b.WriteString(kind)
	b.WriteString(`":`)
	b.Write(body)
	b.WriteByte('}')
	return b.Bytes()
}

// open decodes a signed envelope of the given kind and, when v is not nil,
// checks its signature for subject. It returns the body bytes.
func open(kind, subject string, data []byte, v *Verifier) (body []byte, keyID string, err error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, "", sigErr(kind, "not a signed %s envelope: %s", kind, jsonProblem(err))
	}
	if len(bytes.TrimSpace(data[dec.InputOffset():])) != 0 {
		return nil, "", sigErr(kind, "trailing data after the envelope")
	}
	if d := duplicateMember(data); d != "" {
		return nil, "", sigErr(kind, "member %q given twice in the envelope: each member once", clip(d))
	}
	if _, bare := m["schema"]; bare && kind == kindRecord {
		return nil, "", sigErr(kind, "unsigned record (a bare schema 1 record, no envelope): gates apply only HQ-signed records (schema 2)")
	}
	if _, bare := m["time"]; bare && kind == kindClock {
		return nil, "", sigErr(kind, "unsigned hq.clock: gates apply only an HQ-signed clock")
	}
	_, batched := m["batch"]
	if batched && kind != kindRecord {
		return nil, "", sigErr(kind, "a %s must carry its own signature (sig), not a batch signature", kind)
	}
	if _, single := m["sig"]; single && batched {
		return nil, "", sigErr(kind, "envelope has both sig and batch: want one of them")
	}
	for name := range m {
		if name != "key_id" && name != "sig" && name != kind && !(batched && name == "batch") {
			allowed := "key_id, sig, " + kind
			if kind == kindRecord {
				allowed = "key_id, sig or batch, " + kind
			}
			return nil, "", sigErr(kind, "unknown field %q in the envelope (allowed: %s)", clip(name), allowed)
		}
	}
	body, ok := m[kind]
	if !ok || isNull(body) {
		return nil, "", sigErr(kind, "envelope has no %q member", kind)
	}
	if err := json.Unmarshal(m["key_id"], &keyID); err != nil || ValidKeyID(keyID) != nil {
		return nil, "", sigErr(kind, "key_id missing or not 1..%d of letters, digits, '_', '.', '-'", MaxKeyIDLen)
	}
	if batched {
		p, err := parseBatchMember(kind, m["batch"])
		if err != nil {
			return nil, keyID, err
		}
		if err := v.verifyBatch(kind, subject, keyID, body, p); err != nil {
			return nil, keyID, err
		}
		return body, keyID, nil
	}
	var sigB64 string
	if err := json.Unmarshal(m["sig"], &sigB64); err != nil {
		return nil, keyID, sigErr(kind, "sig missing or not a string")
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(sigB64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, keyID, sigErr(kind, "sig must be %d bytes in standard base64", ed25519.SignatureSize)
	}
	if v != nil {
		pub, ok := v.keys[keyID]
		if !ok {
			return nil, keyID, sigErr(kind, "key id %q is not among the HQ public keys this gate trusts (%s)", keyID, strings.Join(v.KeyIDs(), ", "))
		}
		if !ed25519.Verify(pub, sigMessage(kind, subject, body), sig) {
			return nil, keyID, sigErr(kind, "does not verify with HQ key %q (forged, altered, or signed for another key)", keyID)
		}
	}
	return body, keyID, nil
}

// SignRecord returns the KV value of r: r as a schema 2 record body, signed
// for the key Key(r.UserID).
func (s *Signer) SignRecord(r *Record) ([]byte, error) {
	if r == nil {
		return nil, fieldErr("", "nil record")
	}
	c := *r
	c.Schema = SchemaVersion
	body, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	return s.seal(kindRecord, Key(r.UserID), body), nil
}

// OpenRecord decodes the KV value of key: a signed envelope whose signature
// must check with a key v trusts, around a valid record body whose user_id
// is the key's. With v nil the envelope is required but its signature is not
// checked (only for HQ tools reading their own bucket). Errors wrap
// ErrInvalid, and ErrSignature for signature problems.
func OpenRecord(key string, value []byte, v *Verifier) (*Record, error) {
	uid, ok := UserIDFromKey(key)
	if !ok {
		return nil, fieldErr("", "key %q is not user.<user_id>", clip(key))
	}
	if r, ok := openRecordFast(key, uid, value, v); ok {
		return r, nil
	}
	body, _, err := open(kindRecord, key, value, v)
	if err != nil {
		return nil, err
	}
	r, err := Parse(body)
	if err != nil {
		return nil, err
	}
	if r.UserID != uid {
		return nil, fieldErr("user_id", "%q does not match the key's user id %q", r.UserID, uid)
	}
	return r, nil
}
