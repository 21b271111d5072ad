// Package display serves the lane display: the page a kiosk browser shows above the reader, in
// Japanese and in the traveller's language, updated live from the lane's screen (server-sent
// events), and a read-only technician status page on a separate handler.
//
// The daemon calls Server.Update (or Server.Show) on every gate.Show; it never blocks, and the
// latest state wins. The traveller page, its styles and script are embedded (no build step, no
// external fetches); messages come from catalogues, one JSON file per language (see
// configs/display and docs/display.md), so a translator adds a language without code.
package display

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"ttpgate/gate"
)

//go:embed web
var webFS embed.FS

// Screens are the screens the page knows, the lane's gate.Screen values.
var Screens = []string{
	string(gate.ScreenClosed), string(gate.ScreenPresentCard), string(gate.ScreenPlaceFinger),
	string(gate.ScreenTryAgain), string(gate.ScreenProceed), string(gate.ScreenSeeOfficer),
	string(gate.ScreenWait), string(gate.ScreenEmergency),
}

// ShownReasons are the refusal reasons a traveller may be told, each with a catalogue message
// "reason.<CODE>". Any other reason (CARD_LOST, CARD_SUPERSEDED, CARD_REVOKED, CARD_UNKNOWN, an
// alarm, a code added later) is never shown, even if the caller marks it visible: the traveller
// is referred to the booth without a reason.
var ShownReasons = []string{
	string(gate.CardExpired), string(gate.PassportExpired), string(gate.NotEligible),
	string(gate.EDMissing), string(gate.BioMismatch), string(gate.BioNoCapture),
	string(gate.RegistryStale), string(gate.LaneClosed), string(gate.RegistryError),
}

// ScreenState is what the lane asks the traveller to do now.
type ScreenState struct {
	Screen        string    // a gate.Screen value; anything else shows "lane closed"
	Attempt, Of   int       // place-finger / try-again: attempt n of m (0: not shown)
	Reason        string    // see-officer: the refusal reason code
	ReasonVisible bool      // the reason may be shown to the traveller (gate.Reason.TravellerMay)
	Language      string    // the traveller's preferred language (BCP 47), once a card is read
	Finger        int       // ISO/IEC 19794-2 finger position to light (1 right thumb .. 10 left little); 0 unknown
	Time          time.Time // when the lane changed screen (zero: when Update is called)
}

// StateFromShow converts the lane's Show output (Finger 0: unknown, the page asks for the
// registered finger and lights the right index).
func StateFromShow(s gate.Show) ScreenState {
	return ScreenState{Screen: string(s.Screen), Attempt: s.Attempt, Of: s.Of, Reason: string(s.Reason),
		ReasonVisible: s.Reason != "" && s.Reason.TravellerMay(), Language: s.Language, Finger: s.Finger}
}

// Options configure a Server.
type Options struct {
	// CatalogDir holds the message catalogues (*.json, one per language); "" or a missing folder:
	// the built-in copy. Files there override or add to the built-in languages.
	CatalogDir string
	// Status supplies the technician status page (any JSON-encodable value, e.g. the daemon's
	// StatusReport). Nil: the page says so.
	Status func(ctx context.Context) any
	// ExitArrow points the "please proceed" arrow toward the exit as the traveller sees it from
	// the screen: "up" (ahead, default), "left" or "right".
	ExitArrow string
	// Rotate is how long each language shows before a card is read (default 3 s).
	Rotate time.Duration
	// Heartbeat is the interval of SSE keep-alive comments (default 15 s).
	Heartbeat time.Duration
	// Log receives connection and catalogue messages (default slog.Default()).
	Log *slog.Logger
	// Recent is how many screen changes the status page keeps (default 50).
	Recent int
}

// Server is the lane display. Its zero value is not usable: call New.
type Server struct {
	opts Options
	cats *Catalogs
	log  *slog.Logger
	page *template.Template
	// closedJSON is the "lane closed" payload the page shows when it loses the daemon.
	closedJSON string
	build      string // hash of the embedded page and the catalogues

	mu       sync.Mutex
	seq      uint64
	cur      Payload
	changed  chan struct{} // closed and replaced on each Update
	recent   []recentChange
	clients  int
	shutdown chan struct{} // closed and replaced by Close: ends the open streams
}

type recentChange struct {
	Time    time.Time `json:"time"`
	Seq     uint64    `json:"seq"`
	Screen  string    `json:"screen"`
	Shown   string    `json:"shown"`
	Reason  string    `json:"reason,omitempty"`
	Visible bool      `json:"reason_shown"`
	Lang    string    `json:"language"`
}

// New loads the catalogues and returns a server showing "lane closed" until the first Update.
func New(opts Options) (*Server, error) {
	if opts.Rotate <= 0 {
		opts.Rotate = 3 * time.Second
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	if opts.Recent <= 0 {
		opts.Recent = 50
	}
	switch opts.ExitArrow {
	case "":
		opts.ExitArrow = "up"
	case "up", "left", "right":
	default:
		return nil, fmt.Errorf("display: exit arrow %q: allowed up, left, right", opts.ExitArrow)
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	cats, err := LoadCatalogs(opts.CatalogDir)
	if err != nil {
		return nil, err
	}
	for lang, keys := range cats.Missing() {
		opts.Log.Warn("display: catalogue incomplete, English used for the missing messages",
			"language", lang, "missing", strings.Join(keys, ","))
	}
	tmpl, err := template.ParseFS(webFS, "web/index.html", "web/status.html")
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, cats: cats, log: opts.Log, page: tmpl, changed: make(chan struct{}), shutdown: make(chan struct{}),
		build: buildID(cats)}
	s.cur = s.render(ScreenState{Screen: string(gate.ScreenClosed)}, 0, time.Now())
	closed, _ := json.Marshal(s.cur)
	s.closedJSON = string(closed)
	return s, nil
}

// Catalogs returns the loaded catalogues.
func (s *Server) Catalogs() *Catalogs { return s.cats }

// Show is Update(StateFromShow(sh)).
func (s *Server) Show(sh gate.Show) { s.Update(StateFromShow(sh)) }

// Update puts the page in st. It never blocks: connected pages get the latest state (a slow page
// skips states it had no time to show).
func (s *Server) Update(st ScreenState) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	p := s.render(st, s.seq, now)
	s.cur = p
	at := st.Time
	if at.IsZero() {
		at = now
	}
	s.recent = append(s.recent, recentChange{Time: at, Seq: s.seq, Screen: st.Screen, Shown: p.Screen,
		Reason: st.Reason, Visible: p.Reason, Lang: p.Lang})
	if len(s.recent) > s.opts.Recent {
		s.recent = s.recent[len(s.recent)-s.opts.Recent:]
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// Current returns what the page shows now.
func (s *Server) Current() Payload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Close ends every open event stream (the pages reconnect, to this server or the next). Serve
// calls it when it stops: http.Server.Shutdown does not end streaming responses. The server
// stays usable: Update goes on, and new streams are served.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.shutdown)
	s.shutdown = make(chan struct{})
}

// Panel is the messages of one language for the current screen.
type Panel struct {
	Lang   string `json:"lang"`
	Name   string `json:"name"`
	Dir    string `json:"dir"`
	Title  string `json:"title"`
	Body   string `json:"body"`
	Detail string `json:"detail,omitempty"` // attempt n of m, or the refusal reason
}

// Payload is what the page receives (the SSE "state" event's data).
type Payload struct {
	Seq     uint64  `json:"seq"`
	Screen  string  `json:"screen"` // the screen shown: always one of Screens
	Unknown string  `json:"unknown,omitempty"`
	Attempt int     `json:"attempt,omitempty"`
	Of      int     `json:"of,omitempty"`
	Finger  int     `json:"finger"` // the finger lit in the hand picture (2, right index, when unknown)
	Reason  bool    `json:"reason"` // a reason is shown
	Lang    string  `json:"lang"`   // the traveller's language; "" before a card is read (rotate)
	Home    Panel   `json:"home"`   // Japanese, always
	Others  []Panel `json:"others"` // the traveller's language, or every other language in turn
	Rotate  int     `json:"rotate_ms"`
	Arrow   string  `json:"arrow"`
	At      float64 `json:"at"`    // Update time, Unix milliseconds (for the latency measure)
	Build   string  `json:"build"` // the page's version: a page of another build reloads itself
}

// beforeCard reports whether the screen comes before a card is read (no traveller language).
func beforeCard(screen string) bool {
	switch gate.Screen(screen) {
	case gate.ScreenClosed, gate.ScreenPresentCard, gate.ScreenWait, gate.ScreenEmergency:
		return true
	}
	return false
}

func known(screen string) bool {
	for _, k := range Screens {
		if k == screen {
			return true
		}
	}
	return false
}

// ReasonShown reports whether a reason code may appear on the traveller's screen: it must be
// marked visible by the lane and be one of ShownReasons.
func ReasonShown(code string, visible bool) bool {
	if !visible || code == "" {
		return false
	}
	for _, r := range ShownReasons {
		if r == code {
			return true
		}
	}
	return false
}

func (s *Server) render(st ScreenState, seq uint64, now time.Time) Payload {
	p := Payload{Seq: seq, Screen: st.Screen, Rotate: int(s.opts.Rotate / time.Millisecond), Arrow: s.opts.ExitArrow,
		At: float64(now.UnixMicro()) / 1000, Finger: st.Finger, Build: s.build}
	if !known(st.Screen) {
		p.Screen, p.Unknown = string(gate.ScreenClosed), st.Screen
	}
	if p.Finger < 1 || p.Finger > 10 {
		p.Finger = 0
	}
	if p.Screen == string(gate.ScreenPlaceFinger) || p.Screen == string(gate.ScreenTryAgain) {
		if st.Attempt > 0 && st.Of >= st.Attempt {
			p.Attempt, p.Of = st.Attempt, st.Of
		}
	}
	p.Reason = p.Screen == string(gate.ScreenSeeOfficer) && ReasonShown(st.Reason, st.ReasonVisible)
	var langs []string
	if beforeCard(p.Screen) && st.Language == "" {
		for _, l := range s.cats.Languages() {
			if l != Home {
				langs = append(langs, l)
			}
		}
	} else {
		p.Lang = s.cats.Match(st.Language)
		if p.Lang != Home {
			langs = []string{p.Lang}
		}
	}
	p.Home = s.panel(Home, p, st.Reason)
	p.Others = []Panel{}
	for _, l := range langs {
		p.Others = append(p.Others, s.panel(l, p, st.Reason))
	}
	return p
}

func (s *Server) panel(lang string, p Payload, reason string) Panel {
	c := s.cats.Get(lang)
	t := func(key string) string { return s.cats.Text(lang, key) }
	finger := t("finger." + strconv.Itoa(p.Finger))
	fill := func(m string) string {
		return strings.NewReplacer("{finger}", finger, "{n}", strconv.Itoa(p.Attempt), "{m}", strconv.Itoa(p.Of)).Replace(m)
	}
	pn := Panel{Lang: c.Lang, Name: c.Name, Dir: t("language.dir"), Title: fill(t(p.Screen + ".title")), Body: fill(t(p.Screen + ".body"))}
	if pn.Dir != "rtl" {
		pn.Dir = "ltr"
	}
	switch {
	case p.Attempt > 0:
		pn.Detail = fill(t("attempt"))
	case p.Reason:
		pn.Detail = t("reason." + reason)
	}
	return pn
}

// Handler serves the traveller page: "/" the page, "/events" the state stream, "/state" the
// current state as JSON, "/assets/..." its script and styles. Nothing else (no status).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handlePage)
	mux.HandleFunc("GET /events", s.handleEvents)
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.Current()) })
	assetsOnly(mux, "lane.css", "lane.js")
	return secure(mux)
}

// assetsOnly serves the named files of web/assets under /assets/.
func assetsOnly(mux *http.ServeMux, names ...string) {
	assets, _ := fs.Sub(webFS, "web/assets")
	files := http.FileServerFS(assets)
	for _, n := range names {
		mux.Handle("GET /assets/"+n, http.StripPrefix("/assets/", files))
	}
}

// StatusHandler serves the technician's read-only status: "/status" (HTML) and "/status.json".
// Serve it on its own listener (Options of the daemon: display_status_listen), never on the
// traveller's: the kiosk page cannot reach it, and its CSP forbids other origins.
func (s *Server) StatusHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/status", http.StatusFound) })
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := s.page.ExecuteTemplate(w, "status.html", nil); err != nil {
			s.log.Warn("display: status page", "err", err)
		}
	})
	mux.HandleFunc("GET /status.json", s.handleStatusJSON)
	assetsOnly(mux, "status.css", "status.js")
	return secure(mux)
}

// StatusReport is the answer of /status.json.
type StatusReport struct {
	Time     time.Time      `json:"time"`
	Display  DisplayStatus  `json:"display"`
	Lane     any            `json:"lane"`
	Problems []string       `json:"problems,omitempty"`
	Recent   []recentChange `json:"recent_screens"`
}

// DisplayStatus is the display's own state in a status report.
type DisplayStatus struct {
	Screen    string              `json:"screen"`
	Language  string              `json:"language,omitempty"`
	Pages     int                 `json:"pages_connected"`
	Languages []string            `json:"languages"`
	Missing   map[string][]string `json:"missing_translations,omitempty"`
}

func (s *Server) handleStatusJSON(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rep := StatusReport{Time: time.Now(), Display: DisplayStatus{Screen: s.cur.Screen, Language: s.cur.Lang, Pages: s.clients,
		Languages: s.cats.Languages(), Missing: s.cats.Missing()}}
	for i := len(s.recent) - 1; i >= 0; i-- {
		rep.Recent = append(rep.Recent, s.recent[i])
	}
	s.mu.Unlock()
	if s.opts.Status != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		rep.Lane = s.opts.Status(ctx)
		cancel()
	} else {
		rep.Problems = append(rep.Problems, "no lane status source configured")
	}
	if rep.Display.Pages == 0 {
		rep.Problems = append(rep.Problems, "no traveller page connected (is the kiosk browser running?)")
	}
	writeJSON(w, rep)
}

func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	p := s.Current()
	data, _ := json.Marshal(p)
	var other Panel
	if len(p.Others) > 0 {
		other = p.Others[0]
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	err := s.page.ExecuteTemplate(w, "index.html", struct {
		P                Payload
		JSON, ClosedJSON string
		Other            Panel
	}{p, string(data), s.closedJSON, other})
	if err != nil {
		s.log.Warn("display: page", "err", err)
	}
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// retry: the page reconnects 1 s after the stream ends (daemon restart).
	fmt.Fprint(w, "retry: 1000\n\n")
	s.mu.Lock()
	s.clients++
	stop := s.shutdown
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.clients--
		s.mu.Unlock()
	}()
	hb := time.NewTicker(s.opts.Heartbeat)
	defer hb.Stop()
	var sent uint64 = ^uint64(0)
	for {
		s.mu.Lock()
		p, ch := s.cur, s.changed
		s.mu.Unlock()
		if p.Seq != sent {
			b, _ := json.Marshal(p)
			if _, err := fmt.Fprintf(w, "event: state\nid: %d\ndata: %s\n\n", p.Seq, b); err != nil {
				return
			}
			fl.Flush()
			sent = p.Seq
		}
		select {
		case <-ch:
		case <-hb.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
			fl.Flush()
		case <-r.Context().Done():
			return
		case <-stop:
			return
		}
	}
}

// Serve serves the traveller page on traveller and, if status is not nil, the status page on
// status, until ctx ends; then it closes the event streams and shuts both servers down.
func (s *Server) Serve(ctx context.Context, traveller, status net.Listener) error {
	servers := []*http.Server{{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}}
	lns := []net.Listener{traveller}
	if status != nil {
		servers = append(servers, &http.Server{Handler: s.StatusHandler(), ReadHeaderTimeout: 5 * time.Second})
		lns = append(lns, status)
	}
	errc := make(chan error, len(servers))
	for i := range servers {
		go func(i int) { errc <- servers[i].Serve(lns[i]) }(i)
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for _, srv := range servers {
		_ = srv.Shutdown(sctx)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("display: %w", err)
	}
	return nil
}

// buildID hashes the embedded page and the loaded catalogues: after an upgrade or a new
// catalogue, open pages reload themselves on their next event.
func buildID(cats *Catalogs) string {
	h := sha256.New()
	_ = fs.WalkDir(webFS, "web", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := webFS.ReadFile(p)
			h.Write([]byte(p))
			h.Write(b)
		}
		return nil
	})
	for _, l := range cats.Languages() {
		b, _ := json.Marshal(cats.Get(l).Messages)
		h.Write([]byte(l))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// secure adds the headers both pages carry: nothing from other origins (so the traveller page
// cannot fetch the status listener, which is another origin), no framing, no sniffing.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}
