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
	"hash"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Snapshot transfer through the Object Store.
//
// The snapshot is an ordinary object of SnapshotBucket (any Object Store
// client reads it), but HQ writes and gates read it with their own transfer
// code, because the client library's Put and Get fail on a large file:
//
//   - Put publishes every chunk at once (up to 4,000 unacknowledged): a 1 GB
//     file fills the stream's ingest queue (128 MB) and the server refuses
//     chunks with "429 too many requests". putObject keeps uploadWindow
//     chunks in flight and retries the whole object (after purging its
//     partial chunks) with backoff.
//   - Get, given a context without a deadline, applies the client's default
//     API timeout (5 s) to the whole download: a file that takes longer to
//     arrive fails with "nats: timeout". download has no overall deadline;
//     it fails only when no chunk arrives for transferIdle, and then
//     resumes from the next chunk's stream sequence, keeping what it has
//     (the file and its running SHA-256).
const (
	snapshotChunkSize = 256 << 10 // bytes a chunk; well under the 1 MB max_payload
	uploadWindow      = 32        // chunks in flight at upload: 8 MB
	transferAttempts  = 8         // upload attempts, or download resumptions without progress
	transferIdle      = 30 * time.Second
	transferMinWait   = 500 * time.Millisecond
	transferMaxWait   = 15 * time.Second
)

// retryable reports whether a transfer error is worth retrying: a busy
// server (429, a timeout, no responders while a leaf reconnects) or a lost
// connection; not an invalid snapshot or a cancelled context.
func retryable(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil && !errors.Is(err, ErrInvalid)
}

// backoff waits before attempt (1, 2, ...) and reports false if ctx ended.
func backoff(ctx context.Context, attempt int) bool {
	d := transferMinWait << min(attempt-1, 6)
	d = min(d, transferMaxWait)
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func newObjectNUID() string {
	b := make([]byte, 11)
	rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

// putObject uploads f (from its start) as object name of obs, with flow
// control, retrying the whole object on a transient error.
func putObject(ctx context.Context, js jetstream.JetStream, obs jetstream.ObjectStore, name, desc string, f *os.File) (*jetstream.ObjectInfo, error) {
	var err error
	for attempt := 1; attempt <= transferAttempts; attempt++ {
		if attempt > 1 && !backoff(ctx, attempt-1) {
			return nil, ctx.Err()
		}
		if _, err = f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		var info *jetstream.ObjectInfo
		if info, err = putObjectOnce(ctx, js, obs, name, desc, f); err == nil {
			return info, nil
		}
		if !retryable(ctx, err) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("after %d attempts: %w", transferAttempts, err)
}

func putObjectOnce(ctx context.Context, js jetstream.JetStream, obs jetstream.ObjectStore, name, desc string, r io.Reader) (*jetstream.ObjectInfo, error) {
	// The object this one replaces, if any: its chunks are purged after.
	old, err := obs.GetInfo(ctx, name, jetstream.GetObjectInfoShowDeleted())
	if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, err
	}
	stream, err := js.Stream(ctx, "OBJ_"+SnapshotBucket)
	if err != nil {
		return nil, err
	}
	pub, err := jetstream.New(js.Conn())
	if err != nil {
		return nil, err
	}
	defer pub.CleanupPublisher()

	nuid := newObjectNUID()
	chunkSubj := "$O." + SnapshotBucket + ".C." + nuid
	purge := func() {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		stream.Purge(pctx, jetstream.WithPurgeSubject(chunkSubj))
	}
	// wait returns the outcome of one chunk's publish.
	wait := func(fut jetstream.PubAckFuture) error {
		select {
		case <-fut.Ok():
			return nil
		case err := <-fut.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(transferIdle):
			return fmt.Errorf("chunk not acknowledged within %s: %w", transferIdle, nats.ErrTimeout)
		}
	}
	var (
		h        = sha256.New()
		buf      = make([]byte, snapshotChunkSize)
		inflight []jetstream.PubAckFuture
		size     uint64
		chunks   uint32
	)
	fail := func(err error) (*jetstream.ObjectInfo, error) {
		for _, fut := range inflight { // let the last acks arrive before purging
			wait(fut)
		}
		purge()
		return nil, err
	}
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			h.Write(buf[:n])
			// The message keeps its own copy: a publish may be resent.
			fut, err := pub.PublishMsgAsync(&nats.Msg{Subject: chunkSubj, Data: bytes.Clone(buf[:n])})
			if err != nil {
				return fail(err)
			}
			inflight = append(inflight, fut)
			size += uint64(n)
			chunks++
			if len(inflight) >= uploadWindow {
				if err := wait(inflight[0]); err != nil {
					inflight = inflight[1:]
					return fail(fmt.Errorf("chunk %d: %w", chunks-uint32(len(inflight)), err))
				}
				inflight = inflight[1:]
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return fail(rerr)
		}
	}
	for len(inflight) > 0 {
		if err := wait(inflight[0]); err != nil {
			inflight = inflight[1:]
			return fail(err)
		}
		inflight = inflight[1:]
	}
	info := &jetstream.ObjectInfo{
		ObjectMeta: jetstream.ObjectMeta{Name: name, Description: desc, Opts: &jetstream.ObjectMetaOptions{ChunkSize: snapshotChunkSize}},
		Bucket:     SnapshotBucket, NUID: nuid, Size: size, Chunks: chunks, Digest: jetstream.GetObjectDigestValue(h),
	}
	data, err := json.Marshal(info)
	if err != nil {
		return fail(err)
	}
	mm := nats.NewMsg("$O." + SnapshotBucket + ".M." + base64.URLEncoding.EncodeToString([]byte(name)))
	mm.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	mm.Data = data
	mctx, cancel := context.WithTimeout(ctx, transferIdle)
	defer cancel()
	if _, err := pub.PublishMsg(mctx, mm); err != nil {
		return fail(err)
	}
	if old != nil && old.NUID != "" && old.NUID != nuid {
		stream.Purge(ctx, jetstream.WithPurgeSubject("$O."+SnapshotBucket+".C."+old.NUID))
	}
	return info, nil
}

// legacyJS returns the push-consumer JetStream context matching js (same
// domain or API prefix): a gate's NATS user may create consumers and
// answer flow control, not pull (see devhq.GatePermissions).
func legacyJS(js jetstream.JetStream) (nats.JetStreamContext, error) {
	o := js.Options()
	switch {
	case o.Domain != "":
		return js.Conn().JetStream(nats.Domain(o.Domain))
	case o.APIPrefix != "":
		return js.Conn().JetStream(nats.APIPrefix(o.APIPrefix))
	default:
		return js.Conn().JetStream()
	}
}

// download fetches m's object into a new file in dir, checking its size and
// SHA-256 against the manifest. It resumes after an interruption from the
// next chunk; it gives up after transferAttempts interruptions in a row
// without progress, or on an invalid snapshot.
func download(ctx context.Context, js jetstream.JetStream, obs jetstream.ObjectStore, m *Manifest, dir string) (path string, err error) {
	var info *jetstream.ObjectInfo
	for attempt := 1; ; attempt++ {
		ictx, cancel := context.WithTimeout(ctx, transferIdle)
		info, err = obs.GetInfo(ictx, m.Object)
		cancel()
		if err == nil || errors.Is(err, jetstream.ErrObjectNotFound) || ctx.Err() != nil || attempt == transferAttempts {
			break
		}
		if !backoff(ctx, attempt) {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("registry: snapshot %s: %w", m.Object, err)
	}
	if info.Size != uint64(m.Size) || info.NUID == "" {
		return "", fmt.Errorf("registry: snapshot %s: %w: object of %d bytes, the signed manifest says %d", m.Object, ErrInvalid, info.Size, m.Size)
	}
	njs, err := legacyJS(js)
	if err != nil {
		return "", fmt.Errorf("registry: snapshot %s: %w", m.Object, err)
	}
	f, err := os.CreateTemp(dir, "registry-snapshot-*.db")
	if err != nil {
		return "", fmt.Errorf("registry: snapshot: %w", err)
	}
	path = f.Name()
	defer func() {
		if err != nil {
			os.Remove(path)
		}
	}()
	d := &chunkReader{f: f, h: sha256.New(), size: m.Size}
	for failures := 0; d.got < d.size; {
		before := d.got
		err = d.fetch(ctx, njs, info)
		if err == nil || !retryable(ctx, err) {
			break
		}
		if d.got > before {
			failures = 0 // progress: resume at once
		}
		failures++
		if failures >= transferAttempts {
			err = fmt.Errorf("after %d attempts without progress: %w", failures, err)
			break
		}
		if !backoff(ctx, failures) {
			err = ctx.Err()
			break
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("registry: download snapshot %s: %w", m.Object, err)
	}
	if d.got != m.Size {
		return "", fmt.Errorf("registry: snapshot %s: %w: %d bytes, the signed manifest says %d", m.Object, ErrInvalid, d.got, m.Size)
	}
	if got := d.h.Sum(nil); !bytes.Equal(got, m.SHA256[:]) {
		return "", fmt.Errorf("registry: snapshot %s: %w: SHA-256 %x does not match the signed manifest's %x", m.Object, ErrInvalid, got, m.SHA256)
	}
	return path, nil
}

// chunkReader writes an object's chunks to f in order, hashing them; it
// remembers the next stream sequence to resume from.
type chunkReader struct {
	mu      sync.Mutex
	f       *os.File
	h       hash.Hash
	size    int64
	got     int64
	nextSeq uint64 // stream sequence of the next chunk wanted, 0 before the first
	err     error
	done    bool
	gen     int // the current fetch; a late callback of an earlier one is ignored
}

// fetch subscribes to the object's chunks from the resume point and writes
// them until the last one, an error, or transferIdle without a chunk.
func (d *chunkReader) fetch(ctx context.Context, njs nats.JetStreamContext, info *jetstream.ObjectInfo) error {
	progress := make(chan struct{}, 1)
	d.mu.Lock()
	d.gen++
	gen := d.gen
	d.done, d.err = false, nil
	start := nats.DeliverAll()
	if d.nextSeq > 0 {
		start = nats.StartSequence(d.nextSeq)
	}
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.gen++ // no more chunks from this subscription
		d.mu.Unlock()
	}()
	finished := make(chan struct{})
	var finishOnce sync.Once
	finish := func() { finishOnce.Do(func() { close(finished) }) }

	sub, err := njs.Subscribe("$O."+SnapshotBucket+".C."+info.NUID, func(msg *nats.Msg) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.gen != gen || d.done || d.err != nil {
			return
		}
		meta, err := msg.Metadata()
		if err != nil {
			d.err = err
			finish()
			return
		}
		if meta.Sequence.Stream < d.nextSeq {
			return // redelivered after the ordered consumer was reset
		}
		if d.got+int64(len(msg.Data)) > d.size {
			d.err = fmt.Errorf("%w: more than the manifest's %d bytes", ErrInvalid, d.size)
			finish()
			return
		}
		if _, err := d.f.Write(msg.Data); err != nil {
			d.err = err
			finish()
			return
		}
		d.h.Write(msg.Data)
		d.got += int64(len(msg.Data))
		d.nextSeq = meta.Sequence.Stream + 1
		select {
		case progress <- struct{}{}:
		default:
		}
		// The last chunk is the one that completes the signed size. The
		// delivery's NumPending is not trusted for this: after the ordered
		// consumer is recreated across a link cut it has been seen to stay
		// above zero on the last chunk, and the download then waited
		// transferIdle for a chunk that does not exist, attempt after
		// attempt (CI, session 3).
		if d.got == d.size {
			d.done = true
			finish()
		}
	}, nats.OrderedConsumer(), nats.BindStream("OBJ_"+SnapshotBucket), start)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	idle := time.NewTimer(transferIdle)
	defer idle.Stop()
	for {
		select {
		case <-finished:
			d.mu.Lock()
			defer d.mu.Unlock()
			return d.err
		case <-progress:
			idle.Reset(transferIdle)
		case <-idle.C:
			return fmt.Errorf("no chunk for %s after %d of %d bytes: %w", transferIdle, d.got, d.size, nats.ErrTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
