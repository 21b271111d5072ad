package display

// Tests in a real browser: Debian's chromium, headless, driven by chromedp. They fail (never
// skip) when chromium is missing. TTPGATE_SCREENSHOTS=1 also writes docs/display/<screen>.png.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser is started once for the package (a start costs seconds on a loaded machine); each
// test gets its own tab.
var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	err    error
	dir    string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	if browser.dir != "" {
		os.RemoveAll(browser.dir)
	}
	os.Exit(code)
}

// chromiumPath finds the browser: TTPGATE_CHROMIUM, else chromium (Debian), chromium-browser,
// google-chrome on PATH.
func chromiumPath() (string, error) {
	if p := os.Getenv("TTPGATE_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("TTPGATE_CHROMIUM=%s: %v (expected a Chrome/Chromium binary)", p, err)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("chromium not found on PATH (tried chromium, chromium-browser, google-chrome): " +
		"the lane display's browser tests need it; install it with scripts/setup.sh (as root) or " +
		"`apt-get install -y chromium`, or set TTPGATE_CHROMIUM to a Chrome/Chromium binary")
}

// newTab returns a chromedp context for a new tab of the shared headless browser, 1280x720.
func newTab(t testing.TB) context.Context {
	t.Helper()
	browser.once.Do(func() {
		path, err := chromiumPath()
		if err != nil {
			browser.err = err
			return
		}
		browser.dir, err = os.MkdirTemp("", "ttpgate-chromium-")
		if err != nil {
			browser.err = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.Headless,
			chromedp.NoSandbox, // tests run as root in CI containers
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.Flag("hide-scrollbars", true),
			chromedp.UserDataDir(browser.dir),
			chromedp.WindowSize(1280, 720),
		)
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		if err := chromedp.Do(bctx); err != nil { // starts the browser
			bcancel()
			acancel()
			browser.err = fmt.Errorf("starting %s: %w", path, err)
			return
		}
		browser.ctx, browser.cancel = bctx, func() { bcancel(); acancel() }
	})
	if browser.err != nil {
		t.Fatalf("browser test: %v", browser.err)
	}
	ctx, cancel := chromedp.NewContext(browser.ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 720)); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	return ctx
}

// serve runs the server on a loopback listener (addr "" picks a port) until the test ends or
// the returned stop is called.
func serve(t testing.TB, s *Server, addr string) (url string, stop func()) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // a restarted daemon may wait a moment for its port
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, ln, nil); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return "http://" + ln.Addr().String() + "/", stop
}

// seen is what the page shows, read from the DOM.
type seen struct {
	Screen, Seq                                string
	HomeLang, HomeTitle, HomeDetail, HomeBody  string
	OtherLang, OtherTitle, OtherDetail, OtherB string
	OtherHidden                                bool
	Lit                                        []string
	Left                                       bool
	Pictures                                   []string
	Text                                       string
	Offline                                    string
}

const readPage = `(() => {
  const q = s => document.querySelector(s);
  const vis = e => getComputedStyle(e).display !== "none";
  return {
    Screen: document.body.dataset.screen, Seq: document.body.dataset.shownSeq || "",
    HomeLang: q("#home").lang, HomeTitle: q("#home .title").textContent,
    HomeDetail: vis(q("#home .detail")) ? q("#home .detail").textContent : "", HomeBody: q("#home .body").textContent,
    OtherLang: q("#other").lang, OtherTitle: q("#other .title").textContent,
    OtherDetail: vis(q("#other .detail")) ? q("#other .detail").textContent : "", OtherB: q("#other .body").textContent,
    OtherHidden: q("#other").hidden,
    Lit: [...document.querySelectorAll("#hand .finger.lit")].map(g => g.dataset.finger),
    Left: q("#hand").classList.contains("left"),
    Pictures: [...document.querySelectorAll(".pic")].filter(vis).map(e => e.getAttribute("class")),
    Text: document.body.innerText,
    Offline: document.body.dataset.offline || "",
  };
})()`

func read(t testing.TB, ctx context.Context) seen {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[seen](readPage))
	if err != nil {
		t.Fatalf("reading the page: %v", err)
	}
	return v
}

// waitShown waits until the page has painted state seq.
func waitShown(t testing.TB, ctx context.Context, seq uint64) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`document.body.dataset.shownSeq === "%d"`, seq),
		chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		t.Fatalf("page never showed state #%d: %v (page: %+v)", seq, err, read(t, ctx))
	}
}

func open(t testing.TB, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.body.dataset.connected === "1"`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("page at %s never connected to /events: %v", url, err)
	}
}

func screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	if os.Getenv("TTPGATE_SCREENSHOTS") != "1" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join("..", "docs", "display", name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", p)
}

// TestBrowserWalk walks travellers through every screen and checks, in the browser, the
// Japanese text and the traveller's language (Korean, Traditional Chinese, English), the picture,
// the lit finger, and that no reason code ever reaches the screen.
func TestBrowserWalk(t *testing.T) {
	s := newServer(t, Options{Rotate: time.Hour}) // no rotation here: the texts are checked
	url, _ := serve(t, s, "")
	ctx := newTab(t)
	open(t, ctx, url)

	first := read(t, ctx)
	if first.Screen != "closed" || first.HomeTitle != "このゲートは閉鎖中です" || first.OtherTitle != "Lane closed" {
		t.Errorf("before any update: %+v, want lane closed in ja and en", first)
	}
	type step struct {
		shot  string // screenshot name ("" none)
		st    ScreenState
		home  string // Japanese title
		lang  string // the second language shown
		title string // its title
		extra []string
		check func(seen) string
	}
	steps := []step{
		{"closed", ScreenState{Screen: "closed"}, "このゲートは閉鎖中です", "en", "Lane closed", nil, nil},
		{"present-card", ScreenState{Screen: "present-card"}, "利用者カードをリーダーに置いてください", "en",
			"Please place your registered user card on the reader", nil, nil},
		{"place-finger", ScreenState{Screen: "place-finger", Attempt: 1, Of: 3, Language: "ko", Finger: 2},
			"右手の人差し指をリーダーに置いてください", "ko", "리더기에 손가락을 올려 주십시오 (오른손 검지)",
			[]string{"3回中1回目", "3회 중 1회째"}, func(v seen) string {
				if len(v.Lit) != 1 || v.Lit[0] != "index" || v.Left {
					return fmt.Sprintf("lit %v left %v, want the right index", v.Lit, v.Left)
				}
				return ""
			}},
		{"try-again", ScreenState{Screen: "try-again", Attempt: 2, Of: 3, Language: "ko", Finger: 2},
			"もう一度お願いします", "ko", "다시 시도해 주십시오", []string{"3回中2回目", "3회 중 2회째"}, nil},
		{"proceed", ScreenState{Screen: "proceed", Language: "ko"}, "お進みください", "ko", "앞으로 나아가 주십시오", nil, nil},
		{"wait", ScreenState{Screen: "wait"}, "お待ちください", "en", "Please wait", nil, nil},
		{"place-finger-left-thumb", ScreenState{Screen: "place-finger", Attempt: 1, Of: 3, Language: "zh-TW", Finger: 6},
			"左手の親指をリーダーに置いてください", "zh-Hant", "請將左手拇指放在讀取器上", nil, func(v seen) string {
				if len(v.Lit) != 1 || v.Lit[0] != "thumb" || !v.Left {
					return fmt.Sprintf("lit %v left %v, want the left thumb", v.Lit, v.Left)
				}
				return ""
			}},
		{"see-officer", ScreenState{Screen: "see-officer", Reason: "BIO_MISMATCH", ReasonVisible: true, Language: "zh-TW"},
			"審査ブースへお越しください", "zh-Hant", "請前往人工查驗櫃檯", []string{"指紋を確認できませんでした。", "無法確認您的指紋。"}, nil},
		{"see-officer-no-reason", ScreenState{Screen: "see-officer", Reason: "CARD_LOST", ReasonVisible: true, Language: "en"},
			"審査ブースへお越しください", "en", "Please go to the officer's booth", nil, func(v seen) string {
				if v.HomeDetail != "" || v.OtherDetail != "" {
					return fmt.Sprintf("a reason is shown for CARD_LOST: %q / %q", v.HomeDetail, v.OtherDetail)
				}
				return ""
			}},
		{"", ScreenState{Screen: "place-finger", Attempt: 1, Of: 3, Language: ""}, // card read, no preferred language
			"登録した指をリーダーに置いてください", "en", "Please place your registered finger on the reader", nil, nil},
		{"emergency", ScreenState{Screen: "emergency"}, "緊急時：扉が開いています", "en", "Emergency: doors open", nil, nil},
		{"", ScreenState{Screen: "no-such-screen"}, "このゲートは閉鎖中です", "en", "Lane closed", nil, nil},
	}
	for _, st := range steps {
		s.Update(st.st)
		seq := s.Current().Seq
		waitShown(t, ctx, seq)
		v := read(t, ctx)
		name := st.st.Screen + "/" + st.st.Language
		want := st.st.Screen
		if !known(want) {
			want = "closed"
		}
		if v.Screen != want || len(v.Pictures) != 1 || !strings.Contains(v.Pictures[0], "pic-"+want) {
			t.Errorf("%s: screen %q pictures %v, want %s and its picture alone", name, v.Screen, v.Pictures, want)
		}
		if v.HomeLang != "ja" || v.HomeTitle != st.home {
			t.Errorf("%s: Japanese title %q, want %q", name, v.HomeTitle, st.home)
		}
		if v.OtherHidden || v.OtherLang != st.lang || v.OtherTitle != st.title {
			t.Errorf("%s: second language %s %q (hidden %v), want %s %q", name, v.OtherLang, v.OtherTitle, v.OtherHidden, st.lang, st.title)
		}
		for _, x := range st.extra {
			if !strings.Contains(v.Text, x) {
				t.Errorf("%s: %q not on the screen:\n%s", name, x, v.Text)
			}
		}
		for _, code := range []string{"CARD_", "BIO_", "_", "{", "undefined", "null"} {
			if strings.Contains(v.Text, code) {
				t.Errorf("%s: %q on the traveller's screen:\n%s", name, code, v.Text)
			}
		}
		if st.check != nil {
			if msg := st.check(v); msg != "" {
				t.Errorf("%s: %s", name, msg)
			}
		}
		if st.shot != "" {
			screenshot(t, ctx, st.shot)
		}
	}

	// A Japanese traveller: Japanese alone.
	s.Update(ScreenState{Screen: "proceed", Language: "ja"})
	waitShown(t, ctx, s.Current().Seq)
	if v := read(t, ctx); !v.OtherHidden || v.HomeTitle != "お進みください" {
		t.Errorf("ja traveller: other panel hidden %v, home %q", v.OtherHidden, v.HomeTitle)
	}
}

// TestBrowserRotation: before a card is read the second language rotates through every
// catalogue but Japanese, Japanese staying on top; once a card is read it stops.
func TestBrowserRotation(t *testing.T) {
	s := newServer(t, Options{Rotate: 200 * time.Millisecond})
	url, _ := serve(t, s, "")
	ctx := newTab(t)
	open(t, ctx, url)
	s.Update(ScreenState{Screen: "present-card"})
	waitShown(t, ctx, s.Current().Seq)
	langs := map[string]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && len(langs) < 4 {
		v := read(t, ctx)
		if v.HomeTitle != "利用者カードをリーダーに置いてください" {
			t.Fatalf("Japanese title during rotation: %q", v.HomeTitle)
		}
		langs[v.OtherLang] = true
		time.Sleep(70 * time.Millisecond)
	}
	var got []string
	for l := range langs {
		got = append(got, l)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "en,ko,zh-Hans,zh-Hant" {
		t.Errorf("rotation showed %v, want en, ko, zh-Hans, zh-Hant", got)
	}
	s.Update(ScreenState{Screen: "place-finger", Attempt: 1, Of: 3, Language: "zh-Hans"})
	waitShown(t, ctx, s.Current().Seq)
	for i := 0; i < 4; i++ {
		if v := read(t, ctx); v.OtherLang != "zh-Hans" || v.OtherTitle != "请将已登记的手指放在读取器上" {
			t.Fatalf("after the card: %s %q, want zh-Hans only", v.OtherLang, v.OtherTitle)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// TestBrowserReconnect: the daemon stops; after a few seconds the page shows "lane closed" (never
// a stale "please proceed"); the daemon comes back on the same address and the page follows it
// without a reload by anyone.
func TestBrowserReconnect(t *testing.T) {
	s1 := newServer(t, Options{})
	url, stop := serve(t, s1, "")
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
	ctx := newTab(t)
	open(t, ctx, url)
	s1.Update(ScreenState{Screen: "proceed", Language: "en"})
	waitShown(t, ctx, s1.Current().Seq)

	// A quick restart (same build): the page reconnects by itself, no reload.
	stop()
	s2 := newServer(t, Options{})
	_, stop = serve(t, s2, addr)
	s2.Update(ScreenState{Screen: "wait"})
	s2.Update(ScreenState{Screen: "present-card"})
	waitShown(t, ctx, s2.Current().Seq)
	if nav, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`performance.getEntriesByType("navigation")[0].type`)); nav != "navigate" {
		t.Errorf("same build: the page was reloaded (%s), want a reconnect", nav)
	}

	// The daemon stays away: after a few seconds the page shows lane closed.
	s2.Update(ScreenState{Screen: "proceed", Language: "en"})
	waitShown(t, ctx, s2.Current().Seq)
	stop()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.body.dataset.offline === "1" && document.body.dataset.screen === "closed"`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("daemon gone: the page did not fall back to lane closed: %v (%+v)", err, read(t, ctx))
	}

	// The new daemon has a new language (a translator's file): another build, the page reloads.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fr.json"), []byte(`{"language.name": "Français", "present-card.title": "Posez votre carte sur le lecteur"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	s3 := newServer(t, Options{CatalogDir: dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	serve(t, s3, addr)
	s3.Update(ScreenState{Screen: "present-card"})
	// Evaluate until it holds, across the navigation.
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.body && document.body.dataset.screen === "present-card" &&
			document.body.dataset.connected === "1" && performance.getEntriesByType("navigation")[0].type === "reload"`))
		if err == nil && ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon back, upgraded: the page did not reload and reconnect: %v (%+v)", err, read(t, ctx))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := read(t, ctx); !strings.Contains(v.Text, "Français") {
		t.Errorf("after the upgrade the page did not reload with the new language:\n%s", v.Text)
	}
}

// TestBrowserStatusPage: the status page renders the daemon's report (and is screenshotted).
func TestBrowserStatusPage(t *testing.T) {
	s := newServer(t, Options{Status: func(ctx context.Context) any {
		return map[string]any{
			"mode": "in-service", "state": "idle",
			"devices": []map[string]any{
				{"name": "card-reader", "port": "/dev/ttyUSB0", "address": 1, "online": true, "timeouts": 0},
				{"name": "bio-reader", "port": "/dev/ttyUSB0", "address": 2, "online": true, "timeouts": 2},
				{"name": "door-board", "port": "/dev/ttyUSB1", "address": 3, "online": false, "problem": "no reply for 9s"},
			},
			"registry": map[string]any{"revision": 1042, "age": "4s"},
			"outbox":   map[string]any{"depth": 0},
			"hq_link":  true,
		}
	}})
	s.Update(ScreenState{Screen: "present-card"})
	s.Update(ScreenState{Screen: "see-officer", Reason: "CARD_LOST"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	trav, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(sctx, trav, ln); close(done) }()
	defer func() { cancel(); <-done }()
	ctx := newTab(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+ln.Addr().String()+"/status")); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Poll[string](`document.getElementById("lane").innerText.includes("door-board") && document.body.innerText`,
		chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		t.Fatalf("status page: %v", err)
	}
	for _, want := range []string{"no reply for 9s", "CARD_LOST", "1042", "no traveller page connected"} {
		if !strings.Contains(text, want) {
			t.Errorf("status page lacks %q:\n%s", want, text)
		}
	}
	screenshot(t, ctx, "status")
}
