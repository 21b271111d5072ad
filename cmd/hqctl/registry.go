package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/internal/devhq"
	"ttpgate/sync/registry"
	"ttpgate/sync/store"
)

func init() {
	register("registry keygen", "[-id KEYID] [-out hq.key] [-pub hq.pub]   make an HQ signing key (private 0600; prints the public key for gate configs)", registryKeygen)
	register("registry import", "[-nats URL] -key FILE [-skip-bad] [-keep-updated] [-format ndjson|csv] FILE|-   sign and put registry records", registryImport)
	register("registry revoke", "[-nats URL] -key FILE CARD   cancel the registration of the card's holder", cardCommand("revoke"))
	register("registry lost", "[-nats URL] -key FILE CARD   report the card lost or stolen", cardCommand("lost"))
	register("registry reissue", "[-nats URL] -key FILE [-issued DATE] [-expires DATE] CARD NEWCARD   issue a new card; the old one is superseded", registryReissue)
	register("registry show", "[-nats URL] [-json] CARD|USER_ID   show a record (templates summarised)", registryShow)
	register("registry snapshot", "[-nats URL] -key FILE [-replicas N] [-dir DIR]   publish a snapshot of the registry for bootstrapping gates", registrySnapshot)
}

func keyFlag(fs *flag.FlagSet) *string {
	return fs.String("key", os.Getenv("TTPGATE_HQ_KEY"), "HQ signing key file (env TTPGATE_HQ_KEY; make one with `hqctl registry keygen`)")
}

// connectKV connects to HQ and opens the registry bucket; with a key file the bucket signs.
func connectKV(ctx context.Context, url, keyFile string) (*nats.Conn, jetstream.JetStream, jetstream.KeyValue, *registry.Signer, error) {
	var signer *registry.Signer
	if keyFile != "" {
		var err error
		if signer, err = registry.LoadSigner(keyFile); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	nc, err := nats.Connect(url, nats.Name("hqctl"))
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("connecting to HQ at %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, nil, nil, err
	}
	kv, err := js.KeyValue(ctx, registry.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = registry.EnsureBucket(ctx, js)
	}
	if err != nil {
		nc.Close()
		return nil, nil, nil, nil, err
	}
	if signer != nil {
		kv = registry.SigningKV(kv, signer)
	}
	return nc, js, kv, signer, nil
}

func needKey(keyFile string) error {
	if keyFile == "" {
		return fmt.Errorf("-key: the HQ signing key file is required (gates apply only signed records)")
	}
	return nil
}

func registryKeygen(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hqctl registry keygen", flag.ContinueOnError)
	id := fs.String("id", "hq-"+time.Now().UTC().Format("2006-01"), "key id (gates list trusted keys by id; use a new id for every rotation)")
	out := fs.String("out", "hq.key", "private key file to create (mode 0600; refuses to overwrite)")
	pub := fs.String("pub", "", "also write the public key to this file")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return errUsage
	}
	s, err := registry.GenerateSigner(*id)
	if err != nil {
		return err
	}
	if err := devhq.WriteKeyFile(*out, s); err != nil {
		return err
	}
	line := s.PublicKeyString()
	if *pub != "" {
		if err := os.WriteFile(*pub, []byte(line+"\n"), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "private key written to %s (keep it at HQ, mode 0600)\n", *out)
	fmt.Println(line)
	return nil
}

// progress prints import progress: a self-overwriting line on a terminal, a line every 10 s otherwise.
type progress struct {
	w         io.Writer
	tty       bool
	start     time.Time
	last      time.Time
	name      string
	done, bad int
}

func newProgress(name string) *progress {
	fi, _ := os.Stderr.Stat()
	tty := fi != nil && fi.Mode()&os.ModeCharDevice != 0
	return &progress{w: os.Stderr, tty: tty, start: time.Now(), last: time.Now(), name: name}
}

func (p *progress) tick() {
	every := 10 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	if time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	rate := float64(p.done) / time.Since(p.start).Seconds()
	if p.tty {
		fmt.Fprintf(p.w, "\r%s: %d records imported, %d rejected, %.0f/s ", p.name, p.done, p.bad, rate)
	} else {
		fmt.Fprintf(p.w, "%s: %d records imported, %d rejected, %.0f/s\n", p.name, p.done, p.bad, rate)
	}
}

func (p *progress) end() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// recordSource yields records with their line numbers.
type recordSource func() (rec *registry.Record, line int, err error)

func openSource(in io.Reader, format string, now time.Time) (recordSource, error) {
	if format == "csv" {
		cr, err := registry.NewCSVReader(in)
		if err != nil {
			return nil, err
		}
		cr.Now = func() time.Time { return now }
		return func() (*registry.Record, int, error) {
			r, err := cr.Next()
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, registry.ErrInvalid) {
				return nil, cr.Line(), err
			}
			return r, cr.Line(), err
		}, nil
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	line := 0
	return func() (*registry.Record, int, error) {
		for sc.Scan() {
			line++
			if len(strings.TrimSpace(sc.Text())) == 0 {
				continue
			}
			r, err := registry.Parse(sc.Bytes())
			if err != nil {
				return nil, line, fmt.Errorf("line %d: %w", line, err)
			}
			return r, line, nil
		}
		if err := sc.Err(); err != nil {
			return nil, line, fmt.Errorf("line %d: %w", line+1, err)
		}
		return nil, line, io.EOF
	}, nil
}

// registryImport signs and puts NDJSON or CSV records, streaming. Bad lines are reported with
// their line number; unless -skip-bad, a file with bad lines is not imported at all (it is checked
// in full first).
func registryImport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hqctl registry import", flag.ContinueOnError)
	url := natsFlag(fs)
	key := keyFlag(fs)
	skipBad := fs.Bool("skip-bad", false, "import the good records of a file with bad lines")
	keep := fs.Bool("keep-updated", false, "keep the records' own updated times (default: stamp the import time, so gates see the newer record)")
	format := fs.String("format", "", "ndjson or csv (default: from the file name, else ndjson)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return errUsage
	}
	if err := needKey(*key); err != nil {
		return err
	}
	name := fs.Arg(0)
	if *format == "" {
		*format = "ndjson"
		if strings.EqualFold(filepath.Ext(name), ".csv") {
			*format = "csv"
		}
	}
	if *format != "ndjson" && *format != "csv" {
		return fmt.Errorf("-format %q: want ndjson or csv", *format)
	}
	if name == "-" && !*skipBad {
		return fmt.Errorf("reading stdin: a stream cannot be checked before importing; use a file, or -skip-bad")
	}
	now := time.Now().UTC()
	open := func() (recordSource, func(), error) {
		if name == "-" {
			src, err := openSource(os.Stdin, *format, now)
			return src, func() {}, err
		}
		f, err := os.Open(name)
		if err != nil {
			return nil, nil, err
		}
		src, err := openSource(f, *format, now)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		return src, func() { f.Close() }, nil
	}
	if !*skipBad { // pass 1: check everything, import nothing if anything is bad
		src, closeFn, err := open()
		if err != nil {
			return err
		}
		bad := 0
		for {
			_, _, err := src()
			if errors.Is(err, io.EOF) {
				break
			}
			if errors.Is(err, registry.ErrInvalid) {
				fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
				bad++
				continue
			}
			if err != nil {
				closeFn()
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		closeFn()
		if bad > 0 {
			return fmt.Errorf("%s: %d bad records, nothing imported (fix them, or import the rest with -skip-bad)", name, bad)
		}
	}
	nc, _, kv, _, err := connectKV(ctx, *url, *key)
	if err != nil {
		return err
	}
	defer nc.Close()
	src, closeFn, err := open()
	if err != nil {
		return err
	}
	defer closeFn()
	p := newProgress(name)
	// Records are signed in batches (one signature per
	// registry.DefaultSignBatch records, registry.PutBatch) and put in
	// file order.
	var (
		recs  []*registry.Record
		lines []int
	)
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		revs, err := registry.PutBatch(ctx, kv, registry.SignerOf(kv), recs)
		p.done += len(revs)
		if err != nil {
			p.end()
			return fmt.Errorf("%s:%d: %w (%d records imported before it)", name, lines[len(revs)], err, p.done)
		}
		for range revs {
			p.tick()
		}
		recs, lines = recs[:0], lines[:0]
		return nil
	}
	for {
		rec, line, err := src()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, registry.ErrInvalid) {
			p.end()
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			p.bad++
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if !*keep {
			rec.Updated = now
		}
		recs, lines = append(recs, rec), append(lines, line)
		if len(recs) == registry.DefaultSignBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	p.end()
	fmt.Fprintf(os.Stderr, "%s: %d records imported, %d rejected in %s\n", name, p.done, p.bad, time.Since(p.start).Round(time.Millisecond))
	if p.bad > 0 {
		return fmt.Errorf("%d records rejected", p.bad)
	}
	return nil
}

// cardCommand returns revoke or lost: a Put of the changed record, never a delete.
func cardCommand(op string) func(ctx context.Context, args []string) error {
	return func(ctx context.Context, args []string) error {
		fs := flag.NewFlagSet("hqctl registry "+op, flag.ContinueOnError)
		url := natsFlag(fs)
		key := keyFlag(fs)
		if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
			return errUsage
		}
		if err := needKey(*key); err != nil {
			return err
		}
		nc, _, kv, _, err := connectKV(ctx, *url, *key)
		if err != nil {
			return err
		}
		defer nc.Close()
		var rev uint64
		var user string
		if op == "revoke" {
			rev, user, err = Revoke(ctx, kv, fs.Arg(0), time.Now())
		} else {
			rev, user, err = ReportLost(ctx, kv, fs.Arg(0), time.Now())
		}
		if err != nil {
			return err
		}
		what := map[string]string{"revoke": "registration revoked", "lost": "card reported lost"}[op]
		fmt.Printf("user %s: %s (registry revision %d)\n", user, what, rev)
		return nil
	}
}

func registryReissue(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hqctl registry reissue", flag.ContinueOnError)
	url := natsFlag(fs)
	key := keyFlag(fs)
	issued := fs.String("issued", "", "issue date of the new card, YYYY-MM-DD (default today, UTC)")
	expires := fs.String("expires", "", "last valid day (default: the earlier of 3 years from issue and the passport's expiry)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 2 {
		return errUsage
	}
	if err := needKey(*key); err != nil {
		return err
	}
	var iss, exp registry.Date
	var err error
	if *issued != "" {
		if iss, err = registry.ParseDate(*issued); err != nil {
			return fmt.Errorf("-issued: %w", err)
		}
	}
	if *expires != "" {
		if exp, err = registry.ParseDate(*expires); err != nil {
			return fmt.Errorf("-expires: %w", err)
		}
	}
	nc, _, kv, _, err := connectKV(ctx, *url, *key)
	if err != nil {
		return err
	}
	defer nc.Close()
	rev, user, err := Reissue(ctx, kv, fs.Arg(0), fs.Arg(1), iss, exp, time.Now())
	if err != nil {
		return err
	}
	fmt.Printf("user %s: new card issued, old card superseded (registry revision %d)\n", user, rev)
	return nil
}

func registryShow(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hqctl registry show", flag.ContinueOnError)
	url := natsFlag(fs)
	asJSON := fs.Bool("json", false, "print the record body as JSON (templates included)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return errUsage
	}
	nc, _, kv, _, err := connectKV(ctx, *url, "")
	if err != nil {
		return err
	}
	defer nc.Close()
	arg := fs.Arg(0)
	var rec *registry.Record
	var rev uint64
	var keyID string
	if e, gerr := kv.Get(ctx, registry.Key(arg)); gerr == nil && registry.ValidUserID(arg) == nil {
		rev = e.Revision()
		rec, err = registry.OpenRecord(e.Key(), e.Value(), nil)
		keyID = envelopeKeyID(e.Value())
	} else {
		rec, rev, keyID, err = findByCard(ctx, kv, arg)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := rec.Marshal()
		if err != nil {
			return err
		}
		fmt.Println(string(b))
		return nil
	}
	fmt.Printf("user %s  revision %d  signed by %s  updated %s\n", rec.UserID, rev, keyID, rec.Updated.Format(time.RFC3339))
	fmt.Printf("  status %s  eligibility %s  passport expires %s  language %s\n", rec.Status, rec.Eligibility, rec.PassportExpiry, rec.PreferredLanguage)
	if rec.ED != nil {
		fmt.Printf("  ED pre-registration %s .. %s\n", rec.ED.From, rec.ED.To)
	} else {
		fmt.Printf("  ED pre-registration: none\n")
	}
	for _, c := range rec.Cards {
		fmt.Printf("  card %s  %-10s issued %s  expires %s\n", c.Number, c.Status, c.Issued, c.Expires)
	}
	for _, t := range rec.Templates {
		fmt.Printf("  template finger %d  %s  %d bytes\n", t.Finger, t.Format, len(t.Data))
	}
	return nil
}

func envelopeKeyID(v []byte) string {
	var e struct {
		KeyID string `json:"key_id"`
	}
	if json.Unmarshal(v, &e) != nil || e.KeyID == "" {
		return "(unsigned)"
	}
	return e.KeyID
}

// registrySnapshot reads the bucket (checking HQ's own signatures), builds the SQLite snapshot and
// publishes it with its signed manifest.
func registrySnapshot(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hqctl registry snapshot", flag.ContinueOnError)
	url := natsFlag(fs)
	key := keyFlag(fs)
	replicas := fs.Int("replicas", 1, "object store replicas (3 on the HQ cluster)")
	dir := fs.String("dir", os.TempDir(), "folder for the snapshot file while it is built")
	pubs := fs.String("trust", "", "extra public keys (id:base64, comma separated) whose records may be in the bucket (during a key rotation)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return errUsage
	}
	if err := needKey(*key); err != nil {
		return err
	}
	nc, js, kv, signer, err := connectKV(ctx, *url, *key)
	if err != nil {
		return err
	}
	defer nc.Close()
	m, err := BuildAndPublishSnapshot(ctx, js, kv, signer, *dir, *replicas, *pubs, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Printf("snapshot %s: revision %d, %d users, %d cards, %d templates, %d bytes, sha256 %x\n",
		m.Object, m.Revision, m.Users, m.Cards, m.Templates, m.Size, m.SHA256)
	return nil
}

// BuildAndPublishSnapshot builds a snapshot of kv in dir and publishes it; extraKeys lists other
// trusted public keys ("id:base64,...").
func BuildAndPublishSnapshot(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, signer *registry.Signer, dir string, replicas int, extraKeys string, msgs io.Writer) (*registry.Manifest, error) {
	keys := map[string]ed25519.PublicKey{signer.KeyID(): signer.PublicKey()}
	for _, k := range strings.Split(extraKeys, ",") {
		if strings.TrimSpace(k) == "" {
			continue
		}
		id, pub, err := registry.ParsePublicKey(k)
		if err != nil {
			return nil, err
		}
		keys[id] = pub
	}
	v, err := registry.NewVerifier(keys)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "registry-build-*.db")
	if err != nil {
		return nil, err
	}
	path := f.Name()
	f.Close()
	os.Remove(path)
	defer os.Remove(path)
	tk := registry.NewTransportKey()
	start := time.Now()
	b, bs, err := store.BuildSnapshot(ctx, js, v, path, tk)
	if err != nil {
		return nil, err
	}
	if bs.Rejected > 0 {
		fmt.Fprintf(msgs, "warning: %d bucket entries did not verify and are not in the snapshot\n", bs.Rejected)
	}
	fmt.Fprintf(msgs, "built snapshot of revision %d (%d users) in %s; publishing\n", bs.Revision, b.Users, time.Since(start).Round(time.Millisecond))
	return registry.PublishSnapshot(ctx, js, signer, path, registry.Manifest{Revision: bs.Revision, Users: b.Users, Cards: b.Cards,
		Templates: b.Templates, TransportKey: tk}, replicas)
}

// errCardNotFound is returned when no record holds the card.
var errCardNotFound = errors.New("no registry record holds this card")

// Revoke finds the record holding card and puts it again with status revoked. It scans the
// bucket's keys: fine for the development HQ; production HQ keeps its own card index.
func Revoke(ctx context.Context, kv jetstream.KeyValue, card string, now time.Time) (uint64, string, error) {
	return change(ctx, kv, card, now, func(r *registry.Record) error {
		r.Status = registry.StatusRevoked
		return nil
	})
}

// ReportLost marks card lost in its holder's record.
func ReportLost(ctx context.Context, kv jetstream.KeyValue, card string, now time.Time) (uint64, string, error) {
	return change(ctx, kv, card, now, func(r *registry.Record) error {
		for i := range r.Cards {
			if r.Cards[i].Number == card {
				r.Cards[i].Status = registry.CardLost
			}
		}
		return nil
	})
}

// Reissue adds newCard as the holder's active card and marks every other active card superseded.
// Zero dates default to today (UTC) and the earlier of 3 years from issue and the passport's expiry.
func Reissue(ctx context.Context, kv jetstream.KeyValue, card, newCard string, issued, expires registry.Date, now time.Time) (uint64, string, error) {
	return change(ctx, kv, card, now, func(r *registry.Record) error {
		for _, c := range r.Cards {
			if c.Number == newCard {
				return fmt.Errorf("the new card is already in user %s's record", r.UserID)
			}
		}
		if issued.IsZero() {
			issued = registry.DateOf(now, time.UTC)
		}
		if expires.IsZero() {
			t := time.Date(issued.Year+3, issued.Month, issued.Day, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
			expires = registry.DateOf(t, time.UTC)
			if r.PassportExpiry.Before(expires) {
				expires = r.PassportExpiry
			}
		}
		for i := range r.Cards {
			if r.Cards[i].Status == registry.CardActive {
				r.Cards[i].Status = registry.CardSuperseded
			}
		}
		r.Cards = append(r.Cards, registry.Card{Number: newCard, Status: registry.CardActive, Issued: issued, Expires: expires})
		return nil
	})
}

func change(ctx context.Context, kv jetstream.KeyValue, card string, now time.Time, f func(*registry.Record) error) (uint64, string, error) {
	rec, _, _, err := findByCard(ctx, kv, card)
	if err != nil {
		return 0, "", err
	}
	if err := f(rec); err != nil {
		return 0, "", err
	}
	rec.Updated = now.UTC()
	rev, err := registry.Put(ctx, kv, rec)
	return rev, rec.UserID, err
}

func findByCard(ctx context.Context, kv jetstream.KeyValue, card string) (*registry.Record, uint64, string, error) {
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, 0, "", err
	}
	defer keys.Stop()
	for k := range keys.Keys() {
		if _, ok := registry.UserIDFromKey(k); !ok {
			continue
		}
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue
		}
		rec, err := registry.OpenRecord(e.Key(), e.Value(), nil)
		if err != nil {
			continue
		}
		for _, c := range rec.Cards {
			if c.Number == card {
				return rec, e.Revision(), envelopeKeyID(e.Value()), nil
			}
		}
	}
	return nil, 0, "", fmt.Errorf("card %s: %w", card, errCardNotFound)
}
