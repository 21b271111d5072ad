package display

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"ttpgate/gate"
)

func newServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.CatalogDir == "" {
		opts.CatalogDir = configDir
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestEveryScreenHasText(t *testing.T) {
	s := newServer(t, Options{})
	for _, sc := range Screens {
		for _, lang := range []string{"", "ko", "zh-TW"} {
			s.Update(ScreenState{Screen: sc, Attempt: 1, Of: 3, Language: lang, Reason: "BIO_MISMATCH", ReasonVisible: true})
			p := s.Current()
			if p.Screen != sc || p.Home.Title == "" || p.Home.Body == "" || p.Home.Lang != "ja" {
				t.Errorf("%s/%q: home panel %+v", sc, lang, p.Home)
			}
			if len(p.Others) == 0 {
				t.Errorf("%s/%q: no second language", sc, lang)
			}
			for _, o := range p.Others {
				if o.Title == "" || strings.Contains(o.Title, "{") || strings.Contains(o.Body, "{") {
					t.Errorf("%s/%q: panel %+v", sc, lang, o)
				}
			}
		}
	}
}

func TestLanguages(t *testing.T) {
	s := newServer(t, Options{})
	s.Update(ScreenState{Screen: "present-card"})
	p := s.Current()
	var langs []string
	for _, o := range p.Others {
		langs = append(langs, o.Lang)
	}
	if p.Lang != "" || strings.Join(langs, ",") != "en,ko,zh-Hans,zh-Hant" {
		t.Errorf("before a card: lang %q, rotation %v; want every language but Japanese", p.Lang, langs)
	}
	s.Update(ScreenState{Screen: "place-finger", Attempt: 1, Of: 3, Language: "zh-TW", Finger: 7})
	p = s.Current()
	if p.Lang != "zh-Hant" || len(p.Others) != 1 || p.Others[0].Title != "請將左手食指放在讀取器上" || p.Home.Title != "左手の人差し指をリーダーに置いてください" {
		t.Errorf("zh-TW traveller: %+v", p)
	}
	if p.Home.Detail != "3回中1回目" || p.Others[0].Detail != "第1次，共3次" {
		t.Errorf("attempt: %q / %q", p.Home.Detail, p.Others[0].Detail)
	}
	s.Update(ScreenState{Screen: "proceed"}) // a card read, no preferred language: English
	if p = s.Current(); p.Lang != "en" || len(p.Others) != 1 || p.Others[0].Title != "Please proceed" {
		t.Errorf("no preferred language: %+v", p)
	}
	s.Update(ScreenState{Screen: "proceed", Language: "ja"}) // a Japanese traveller: Japanese alone
	if p = s.Current(); p.Lang != "ja" || len(p.Others) != 0 {
		t.Errorf("ja traveller: %+v", p)
	}
}

func TestUnknownScreenIsClosed(t *testing.T) {
	s := newServer(t, Options{})
	for _, sc := range []string{"", "bogus", "PROCEED", "<script>"} {
		s.Update(ScreenState{Screen: sc})
		p := s.Current()
		if p.Screen != "closed" || p.Home.Title != "このゲートは閉鎖中です" || p.Unknown != sc {
			t.Errorf("screen %q: shown %q %q", sc, p.Screen, p.Home.Title)
		}
	}
}

// TestReasonsNeverShown: a reason that reveals an alarm is never on the traveller's screen, even
// if the caller marks it visible by mistake; a reason the traveller may see is, politely.
func TestReasonsNeverShown(t *testing.T) {
	s := newServer(t, Options{})
	all := []gate.Reason{gate.CardUnknown, gate.CardSuperseded, gate.CardLost, gate.CardRevoked, gate.CardExpired,
		gate.PassportExpired, gate.NotEligible, gate.EDMissing, gate.BioMismatch, gate.BioNoCapture, gate.RegistryStale,
		gate.LaneClosed, gate.RegistryError, gate.Tailgating, gate.DoorForced, gate.DoorHeld, gate.WrongWay, gate.FireAlarm,
		gate.OutboxHigh, gate.OutboxFull, "SOMETHING_NEW"}
	for _, r := range all {
		for _, visible := range []bool{true, false} {
			for _, lang := range []string{"en", "ko", "zh-Hans"} {
				s.Update(ScreenState{Screen: "see-officer", Reason: string(r), ReasonVisible: visible, Language: lang})
				p := s.Current()
				b, _ := json.Marshal(p)
				if strings.Contains(string(b), string(r)) {
					t.Errorf("reason code %s appears in the page's data: %s", r, b)
				}
				want := visible && r.TravellerMay() && ReasonShown(string(r), true)
				if p.Reason != want || (p.Home.Detail != "") != want || (p.Others[0].Detail != "") != want {
					t.Errorf("%s visible=%v: reason shown %v (%q), want %v", r, visible, p.Reason, p.Home.Detail, want)
				}
			}
		}
		switch r {
		case gate.CardLost, gate.CardSuperseded, gate.CardRevoked, gate.CardUnknown:
			s.Show(gate.Show{Screen: gate.ScreenSeeOfficer, Reason: r, Language: "en"})
			if p := s.Current(); p.Reason || p.Home.Detail != "" {
				t.Errorf("Show(%s): reason shown %q", r, p.Home.Detail)
			}
		}
	}
	s.Show(gate.Show{Screen: gate.ScreenSeeOfficer, Reason: gate.BioMismatch, Language: "en"})
	if p := s.Current(); p.Others[0].Detail != "Your fingerprint could not be confirmed." {
		t.Errorf("BIO_MISMATCH: %q", p.Others[0].Detail)
	}
}

func TestReaderCue(t *testing.T) {
	s := newServer(t, Options{})
	colors := map[string]bool{}
	for _, sc := range append(Screens, "bogus") {
		c := s.ReaderCue(ScreenState{Screen: sc, Attempt: 2, Of: 3, Language: "ko"})
		if c.Color == "" || c.Text == "" || !printableASCII(c.Text) || len(c.Text) > 32 {
			t.Errorf("%s: %+v", sc, c)
		}
		colors[c.Color] = true
	}
	if c := s.ReaderCue(ScreenState{Screen: "try-again", Attempt: 2, Of: 3}); c.Text != "TRY AGAIN 2/3" || c.Beeps != 2 {
		t.Errorf("try-again: %+v", c)
	}
	if c := s.ReaderCue(ScreenState{Screen: "proceed"}); c.Color != "green" || c.Beeps != 1 {
		t.Errorf("proceed: %+v", c)
	}
	// Screens that share a colour differ in flashing or beeps.
	seen := map[Cue]string{}
	for _, sc := range Screens {
		c := s.ReaderCue(ScreenState{Screen: sc})
		c.Text = ""
		if other, dup := seen[c]; dup {
			t.Errorf("%s and %s: same LED and buzzer %+v", sc, other, c)
		}
		seen[c] = sc
	}
}

// TestEventsStream: the stream sends the current state at once, then each change; Update never
// blocks, with or without pages; the latest state wins.
func TestEventsStream(t *testing.T) {
	s := newServer(t, Options{Heartbeat: 50 * time.Millisecond})
	for i := 0; i < 1000; i++ { // no page: must not block
		s.Update(ScreenState{Screen: "wait"})
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan Payload, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var p Payload
				if json.Unmarshal([]byte(d), &p) == nil {
					events <- p
				}
			}
		}
		close(events)
	}()
	next := func() Payload {
		select {
		case p := <-events:
			return p
		case <-ctx.Done():
			t.Fatal("no event")
		}
		return Payload{}
	}
	if p := next(); p.Screen != "wait" || p.Seq != 1000 {
		t.Errorf("first event %s #%d, want the current state wait #1000", p.Screen, p.Seq)
	}
	s.Update(ScreenState{Screen: "proceed", Language: "ko"})
	if p := next(); p.Screen != "proceed" || p.Lang != "ko" {
		t.Errorf("event %+v", p)
	}
	for i := 0; i < 200; i++ {
		s.Update(ScreenState{Screen: "wait"})
	}
	s.Update(ScreenState{Screen: "emergency"})
	for p := next(); p.Screen != "emergency"; p = next() {
	}
	time.Sleep(120 * time.Millisecond) // a heartbeat passes without breaking the stream
	s.Update(ScreenState{Screen: "closed"})
	if p := next(); p.Screen != "closed" {
		t.Errorf("after heartbeat: %+v", p)
	}
	s.Close() // the daemon stops: the stream ends (the page reconnects to the next one)
	for range events {
	}
}

// TestStatusSeparate: the traveller's handler serves no status; the status handler serves it,
// from the daemon's function; both forbid other origins.
func TestStatusSeparate(t *testing.T) {
	s := newServer(t, Options{Status: func(ctx context.Context) any {
		return map[string]any{"mode": "in-service", "outbox": map[string]int{"depth": 3}}
	}})
	s.Update(ScreenState{Screen: "see-officer", Reason: "CARD_LOST"})
	trav := httptest.NewServer(s.Handler())
	defer trav.Close()
	stat := httptest.NewServer(s.StatusHandler())
	defer stat.Close()
	for _, path := range []string{"/status", "/status.json", "/assets/status.js"} {
		if code, _ := get(t, trav.URL+path); code != 404 {
			t.Errorf("traveller listener %s: %d, want 404", path, code)
		}
	}
	code, page := get(t, trav.URL+"/")
	if code != 200 || strings.Contains(page, "status") && strings.Contains(page, "href=\"/status") {
		t.Errorf("traveller page: %d, links the status page", code)
	}
	if !strings.Contains(page, "このゲートは閉鎖中です") && !strings.Contains(page, "審査ブースへお越しください") {
		t.Errorf("page not rendered with the current state:\n%s", page)
	}
	code, body := get(t, stat.URL+"/status.json")
	var rep struct {
		Lane    map[string]any `json:"lane"`
		Display DisplayStatus  `json:"display"`
		Recent  []recentChange `json:"recent_screens"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &rep) != nil || rep.Lane["mode"] != "in-service" ||
		rep.Display.Screen != "see-officer" || len(rep.Recent) != 1 || rep.Recent[0].Reason != "CARD_LOST" {
		t.Errorf("status.json %d: %s", code, body)
	}
	if code, html := get(t, stat.URL+"/status"); code != 200 || !strings.Contains(html, "read-only") {
		t.Errorf("status page %d", code)
	}
	resp, err := http.Get(trav.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestNewOptions(t *testing.T) {
	if _, err := New(Options{ExitArrow: "down"}); err == nil {
		t.Error("exit arrow down accepted")
	}
}
