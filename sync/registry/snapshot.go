package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// SnapshotBucket is the JetStream Object Store that holds registry
// snapshots: SQLite files named "registry-<revision>.db" and the signed
// manifest of the latest one, ManifestObject.
const SnapshotBucket = "ttp-registry-snapshots"

// ManifestObject is the object name of the latest snapshot's signed manifest.
const ManifestObject = "latest.manifest"

// ManifestFormat is the manifest schema this code reads and writes.
const ManifestFormat = 1

// TransportKeySize is the size of a snapshot's template transport key.
const TransportKeySize = 32

// ErrNoSnapshot reports that HQ has published no snapshot.
var ErrNoSnapshot = errors.New("registry: no snapshot published (object store " + SnapshotBucket + " or its manifest is missing)")

// Manifest describes one snapshot. HQ signs it (an envelope of kind
// "manifest" for the subject SnapshotBucket), which signs the file's SHA-256
// and the revision it covers together.
type Manifest struct {
	Format       int       // ManifestFormat
	Bucket       string    // the KV bucket the snapshot is of: Bucket
	Revision     uint64    // the bucket revision the snapshot covers; gates resume from Revision+1
	Object       string    // object name of the SQLite file
	Size         int64     // file size in bytes
	SHA256       [32]byte  // file hash
	Users        int64     // row counts, informative
	Cards        int64     //
	Templates    int64     //
	Created      time.Time // when HQ built it
	TransportKey []byte    // AES-256 key the file's templates are sealed with (see docs/registry.md)
}

type jsonManifest struct {
	Format       int    `json:"format"`
	Bucket       string `json:"bucket"`
	Revision     uint64 `json:"revision"`
	Object       string `json:"object"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
	Users        int64  `json:"users"`
	Cards        int64  `json:"cards"`
	Templates    int64  `json:"templates"`
	Created      string `json:"created"`
	TransportKey string `json:"transport_key"`
}

var manifestFields = []string{"format", "bucket", "revision", "object", "size", "sha256", "users", "cards", "templates", "created", "transport_key"}

func manifestErr(format string, args ...any) error {
	return fmt.Errorf("registry snapshot manifest: %w", fieldErr("", format, args...))
}

// ParseManifest decodes a manifest body strictly. Errors wrap ErrInvalid.
func ParseManifest(data []byte) (*Manifest, error) {
	if _, err := object(data, "", manifestFields, manifestFields); err != nil {
		return nil, fmt.Errorf("registry snapshot manifest: %w", err)
	}
	var j jsonManifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, manifestErr("a field has the wrong JSON type: %s", jsonProblem(err))
	}
	m := &Manifest{Format: j.Format, Bucket: j.Bucket, Revision: j.Revision, Object: j.Object, Size: j.Size,
		Users: j.Users, Cards: j.Cards, Templates: j.Templates}
	if m.Format != ManifestFormat {
		return nil, manifestErr("format must be %d, got %d", ManifestFormat, m.Format)
	}
	if m.Bucket != Bucket {
		return nil, manifestErr("bucket must be %q, got %q", Bucket, clip(m.Bucket))
	}
	if m.Revision == 0 {
		return nil, manifestErr("revision must be at least 1")
	}
	if !validObjectName(m.Object) {
		return nil, manifestErr("object must be \"registry-<revision>.db\", got %q", clip(m.Object))
	}
	if m.Size <= 0 {
		return nil, manifestErr("size must be positive, got %d", m.Size)
	}
	if m.Users < 0 || m.Cards < 0 || m.Templates < 0 {
		return nil, manifestErr("row counts must not be negative")
	}
	h, err := hex.DecodeString(j.SHA256)
	if err != nil || len(h) != sha256.Size || strings.ToLower(j.SHA256) != j.SHA256 {
		return nil, manifestErr("sha256 must be 64 lowercase hex digits")
	}
	copy(m.SHA256[:], h)
	if m.Created, err = time.Parse(time.RFC3339Nano, j.Created); err != nil {
		return nil, manifestErr("created must be an RFC 3339 time, got %q", clip(j.Created))
	}
	if m.TransportKey, err = base64.StdEncoding.Strict().DecodeString(j.TransportKey); err != nil || len(m.TransportKey) != TransportKeySize {
		return nil, manifestErr("transport_key must be %d bytes in standard base64", TransportKeySize)
	}
	return m, nil
}

func validObjectName(s string) bool {
	n, ok := strings.CutPrefix(s, "registry-")
	if !ok {
		return false
	}
	n, ok = strings.CutSuffix(n, ".db")
	if !ok || n == "" || len(n) > 20 {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
	}
	return true
}

// Marshal encodes the manifest body (unsigned).
func (m *Manifest) Marshal() []byte {
	b, _ := json.Marshal(jsonManifest{Format: m.Format, Bucket: m.Bucket, Revision: m.Revision, Object: m.Object, Size: m.Size,
		SHA256: hex.EncodeToString(m.SHA256[:]), Users: m.Users, Cards: m.Cards, Templates: m.Templates,
		Created: m.Created.UTC().Format(time.RFC3339Nano), TransportKey: base64.StdEncoding.EncodeToString(m.TransportKey)})
	return b
}

// SignManifest returns m signed for the snapshot store.
func (s *Signer) SignManifest(m *Manifest) []byte {
	return s.seal(kindManifest, SnapshotBucket, m.Marshal())
}

// OpenManifest decodes a signed manifest; with v not nil its signature must
// check with a trusted key. Errors wrap ErrInvalid, and ErrSignature for
// signature problems.
func OpenManifest(data []byte, v *Verifier) (*Manifest, error) {
	body, _, err := open(kindManifest, SnapshotBucket, data, v)
	if err != nil {
		return nil, err
	}
	return ParseManifest(body)
}

// NewTransportKey returns a random snapshot transport key.
func NewTransportKey() []byte {
	k := make([]byte, TransportKeySize)
	if _, err := rand.Read(k); err != nil {
		panic("registry: crypto/rand: " + err.Error())
	}
	return k
}

// EnsureSnapshotStore creates the snapshot object store if needed.
func EnsureSnapshotStore(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.ObjectStore, error) {
	obs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      SnapshotBucket,
		Description: "TTP registry snapshots (SQLite) and the signed manifest of the latest",
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("registry: create or update object store %s: %w", SnapshotBucket, err)
	}
	return obs, nil
}

// BucketState is what ReadBucket read.
type BucketState struct {
	Revision uint64    // the bucket revision the read covers
	HQClock  time.Time // the hq.clock at that revision (zero if none)
	Records  int       // user records passed to fn
	Rejected int       // entries that did not decode (or verify)
	// Deleted are the users whose key's last entry is a delete or purge marker
	// (HQ erased them), with the marker's time: a snapshot keeps them as
	// tombstones so that a replay of their old records stays refused.
	Deleted []DeletedUser
}

// DeletedUser is a user HQ deleted from the bucket, and when.
type DeletedUser struct {
	UserID string
	At     time.Time
}

// ReadBucket reads the bucket's current state, one consistent cut: every
// user record is decoded (and verified when v is not nil) and passed to fn in
// revision order. The returned Revision is the last revision the cut covers.
// It reads with a pull consumer (last value per key), so a slow fn never
// makes the server drop messages, whatever the bucket's size.
func ReadBucket(ctx context.Context, js jetstream.JetStream, v *Verifier, fn func(*Record) error) (BucketState, error) {
	var st BucketState
	stream := "KV_" + Bucket
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return st, fmt.Errorf("registry: read bucket: %w", err)
	}
	si, err := s.Info(ctx)
	if err != nil {
		return st, fmt.Errorf("registry: read bucket: %w", err)
	}
	if si.State.Msgs == 0 {
		st.Revision = si.State.LastSeq
		return st, nil
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"$KV." + Bucket + ".>"},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return st, fmt.Errorf("registry: read bucket: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1024))
	if err != nil {
		return st, fmt.Errorf("registry: read bucket: %w", err)
	}
	defer it.Stop()
	var batch []jetstream.KeyValueEntry
	flush := func() error {
		res := decodeParallel(batch, v)
		for i, e := range batch {
			st.Revision = max(st.Revision, e.Revision())
			switch {
			case e.Operation() != jetstream.KeyValuePut:
				if uid, ok := UserIDFromKey(e.Key()); ok {
					st.Deleted = append(st.Deleted, DeletedUser{UserID: uid, At: e.Created()})
				}
			case res[i].clock != nil:
				st.HQClock = *res[i].clock
			case res[i].err != nil:
				st.Rejected++
			case res[i].rec != nil:
				st.Records++
				if err := fn(res[i].rec); err != nil {
					return err
				}
			}
		}
		batch = batch[:0]
		return nil
	}
	prefix := "$KV." + Bucket + "."
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		msg, err := it.Next()
		if err != nil {
			return st, fmt.Errorf("registry: read bucket: %w", err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return st, fmt.Errorf("registry: read bucket: %w", err)
		}
		op := jetstream.KeyValuePut
		switch msg.Headers().Get("KV-Operation") {
		case "DEL":
			op = jetstream.KeyValueDelete
		case "PURGE":
			op = jetstream.KeyValuePurge
		}
		batch = append(batch, &rawEntry{key: strings.TrimPrefix(msg.Subject(), prefix), value: msg.Data(),
			rev: meta.Sequence.Stream, created: meta.Timestamp, op: op})
		if meta.NumPending == 0 {
			return st, flush()
		}
		if len(batch) >= 1024 {
			if err := flush(); err != nil {
				return st, err
			}
		}
	}
}

// rawEntry is a KV entry read from the bucket's stream.
type rawEntry struct {
	key     string
	value   []byte
	rev     uint64
	created time.Time
	op      jetstream.KeyValueOp
}

func (e *rawEntry) Bucket() string                  { return Bucket }
func (e *rawEntry) Key() string                     { return e.key }
func (e *rawEntry) Value() []byte                   { return e.value }
func (e *rawEntry) Revision() uint64                { return e.rev }
func (e *rawEntry) Created() time.Time              { return e.created }
func (e *rawEntry) Delta() uint64                   { return 0 }
func (e *rawEntry) Operation() jetstream.KeyValueOp { return e.op }

// decoded is one KV entry decoded.
type decoded struct {
	rec   *Record
	clock *time.Time
	err   error
}

// decodeParallel decodes (and verifies, v not nil) put entries on all cores:
// Ed25519 verification costs ~60-100 µs a record. Deletes and unknown keys
// are left zero; the caller classifies them.
func decodeParallel(entries []jetstream.KeyValueEntry, v *Verifier) []decoded {
	out := make([]decoded, len(entries))
	one := func(i int) {
		e := entries[i]
		if e.Operation() != jetstream.KeyValuePut {
			return
		}
		switch key := e.Key(); {
		case key == ClockKey:
			t, err := OpenClock(e.Value(), v)
			if err != nil {
				out[i].err = err
			} else {
				out[i].clock = &t
			}
		default:
			if _, ok := UserIDFromKey(key); ok {
				out[i].rec, out[i].err = OpenRecord(key, e.Value(), v)
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), (len(entries)+31)/32)
	if workers <= 1 {
		for i := range entries {
			one(i)
		}
		return out
	}
	var wg sync.WaitGroup
	per := (len(entries) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, len(entries))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				one(i)
			}
		}()
	}
	wg.Wait()
	return out
}

// PublishSnapshot uploads the snapshot file at path (built for the bucket at
// m.Revision; m's counts and transport key filled by the caller), computes
// its size and SHA-256, signs the manifest with s and publishes it as the
// latest. Older snapshot files except the previous one are deleted. It
// returns the completed manifest.
func PublishSnapshot(ctx context.Context, js jetstream.JetStream, s *Signer, path string, m Manifest, replicas int) (*Manifest, error) {
	if s == nil {
		return nil, ErrNoSigner
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("registry: publish snapshot: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if m.Size, err = io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("registry: publish snapshot: hash %s: %w", path, err)
	}
	copy(m.SHA256[:], h.Sum(nil))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	m.Format, m.Bucket = ManifestFormat, Bucket
	m.Object = fmt.Sprintf("registry-%d.db", m.Revision)
	if m.Created.IsZero() {
		m.Created = time.Now().UTC()
	}
	if len(m.TransportKey) != TransportKeySize {
		return nil, fmt.Errorf("registry: publish snapshot: transport key must be %d bytes", TransportKeySize)
	}
	obs, err := EnsureSnapshotStore(ctx, js, replicas)
	if err != nil {
		return nil, err
	}
	var previous string
	if data, err := obs.GetBytes(ctx, ManifestObject); err == nil {
		if pm, err := OpenManifest(data, nil); err == nil {
			previous = pm.Object
		}
	}
	if _, err := putObject(ctx, js, obs, m.Object, "registry snapshot (SQLite)", f); err != nil {
		return nil, fmt.Errorf("registry: publish snapshot %s: %w", m.Object, err)
	}
	if _, err := obs.PutBytes(ctx, ManifestObject, s.SignManifest(&m)); err != nil {
		return nil, fmt.Errorf("registry: publish snapshot manifest: %w", err)
	}
	if list, err := obs.List(ctx); err == nil {
		for _, oi := range list {
			if oi.Name != m.Object && oi.Name != previous && oi.Name != ManifestObject && validObjectName(oi.Name) {
				obs.Delete(ctx, oi.Name)
			}
		}
	}
	return &m, nil
}

// FetchSnapshot reads and checks the latest manifest (signature with v; v nil
// skips it, for HQ tools only), downloads the snapshot into a new file in dir
// while hashing it, and checks its size and SHA-256 against the manifest.
// On success the caller owns the file at path (remove it after installing).
// It returns ErrNoSnapshot if HQ has published none.
func FetchSnapshot(ctx context.Context, js jetstream.JetStream, v *Verifier, dir string) (m *Manifest, path string, err error) {
	obs, m, err := FetchManifest(ctx, js, v)
	if err != nil {
		return nil, "", err
	}
	path, err = download(ctx, js, obs, m, dir)
	return m, path, err
}

// FetchManifest reads and checks the latest snapshot manifest. A transient
// error (a timeout, the airport link down) is retried with backoff.
func FetchManifest(ctx context.Context, js jetstream.JetStream, v *Verifier) (obs jetstream.ObjectStore, m *Manifest, err error) {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		obs, m, err = fetchManifestOnce(actx, js, v)
		cancel()
		if !retryable(ctx, err) || errors.Is(err, ErrNoSnapshot) || attempt == transferAttempts {
			return obs, m, err
		}
		if !backoff(ctx, attempt) {
			return nil, nil, ctx.Err()
		}
	}
}

func fetchManifestOnce(ctx context.Context, js jetstream.JetStream, v *Verifier) (jetstream.ObjectStore, *Manifest, error) {
	obs, err := js.ObjectStore(ctx, SnapshotBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil, ErrNoSnapshot
	}
	if err != nil {
		return nil, nil, fmt.Errorf("registry: snapshot store: %w", err)
	}
	data, err := obs.GetBytes(ctx, ManifestObject)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, nil, ErrNoSnapshot
	}
	if err != nil {
		return nil, nil, fmt.Errorf("registry: snapshot manifest: %w", err)
	}
	m, err := OpenManifest(data, v)
	if err != nil {
		return nil, nil, err
	}
	return obs, m, nil
}

// SnapshotInstaller is a store that can install a verified snapshot.
// *store.Store implements it.
type SnapshotInstaller interface {
	Applier
	// InstallSnapshot installs the checked file at path as the registry
	// at m.Revision, atomically; it refuses a snapshot older than the
	// stored cursor with an error wrapping ErrReplay.
	InstallSnapshot(ctx context.Context, path string, m *Manifest) error
	// Path is the store's database file; snapshots are downloaded beside it.
	Path() string
}

// Bootstrap fetches the latest snapshot, checks it with v, and installs it
// into st. It returns the installed manifest, or ErrNoSnapshot.
func Bootstrap(ctx context.Context, js jetstream.JetStream, st SnapshotInstaller, v *Verifier) (*Manifest, error) {
	obs, m, err := FetchManifest(ctx, js, v)
	if err != nil {
		return nil, err
	}
	cur, _, err := st.RegistryCursor(ctx)
	if err != nil {
		return nil, err
	}
	if m.Revision < cur {
		return nil, &ReplayError{Problem: fmt.Sprintf("snapshot at revision %d is older than this gate's registry (revision %d): not installed", m.Revision, cur)}
	}
	// download resumes after a transient error (a busy server, a link
	// that dropped) from the last chunk received: a fresh gate would
	// otherwise read the whole bucket instead.
	path, err := download(ctx, js, obs, m, filepath.Dir(st.Path()))
	if err != nil {
		return nil, err
	}
	defer os.Remove(path)
	if err := st.InstallSnapshot(ctx, path, m); err != nil {
		return nil, err
	}
	return m, nil
}
