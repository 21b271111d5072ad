package simulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"ttpgate/devices/faultlink"
	"ttpgate/devices/osdp"
	"ttpgate/devices/serialport"
)

var (
	keyCard = bytes.Repeat([]byte{0xC1}, 16)
	keyBio  = bytes.Repeat([]byte{0xB2}, 16)
	keyDoor = bytes.Repeat([]byte{0xD3}, 16)
)

// secureSetup configures the three PDs on both sides.
type secureSetup struct {
	cp  map[byte]osdp.PDConfig
	pds map[byte]SecureConfig
}

func allKeyed() secureSetup {
	return secureSetup{
		cp: map[byte]osdp.PDConfig{
			addrCard: {SCBK: keyCard}, addrBio: {SCBK: keyBio}, addrDoor: {SCBK: keyDoor},
		},
		pds: map[byte]SecureConfig{
			addrCard: {SCBK: keyCard}, addrBio: {SCBK: keyBio}, addrDoor: {SCBK: keyDoor},
		},
	}
}

// startSecureLane is startLane with Secure Channel configuration; it waits
// for the PDs listed in waitOnline.
func startSecureLane(t *testing.T, cpLink osdp.Link, pdLink io.ReadWriter, closers []io.Closer, opt osdp.Options, sc secureSetup, waitOnline ...byte) *lane {
	t.Helper()
	l := &lane{card: NewCardReader(addrCard), bio: NewBioReader(addrBio), door: NewDoorBoard(addrDoor)}
	var err error
	l.bus, err = NewBus(pdLink, l.card, l.bio, l.door)
	if err != nil {
		t.Fatal(err)
	}
	for a, c := range sc.pds {
		if err := l.bus.SetSecure(a, c); err != nil {
			t.Fatal(err)
		}
	}
	cfgs := []osdp.PDConfig{{Addr: addrCard, Name: "card reader"}, {Addr: addrBio, Name: "fingerprint reader"}, {Addr: addrDoor, Name: "door board"}}
	for i := range cfgs {
		c := sc.cp[cfgs[i].Addr]
		cfgs[i].SCBK, cfgs[i].InstallMode = c.SCBK, c.InstallMode
	}
	l.cp = osdp.NewControlPanel(cpLink, cfgs, opt)
	l.ev = collect(l.cp)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = l.bus.Serve(ctx) }()
	go func() { defer wg.Done(); _ = l.cp.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for _, c := range closers {
			c.Close()
		}
		wg.Wait()
	})
	for _, a := range waitOnline {
		l.ev.waitFor(t, 0, "PDOnline", isOnline(a))
	}
	return l
}

func securePipeLane(t *testing.T, opt osdp.Options, sc secureSetup, wrap func(io.ReadWriter) io.ReadWriter, waitOnline ...byte) *lane {
	cpSide, pdSide := net.Pipe()
	var pd io.ReadWriter = pdSide
	if wrap != nil {
		pd = wrap(pdSide)
	}
	return startSecureLane(t, cpSide, pd, []io.Closer{cpSide, pdSide}, opt, sc, waitOnline...)
}

func isCard(e osdp.Event) bool { _, ok := e.(osdp.CardRead); return ok }

// sniffer records every byte the PDs receive, to check that no payload
// crosses the wire in clear.
type sniffer struct {
	io.ReadWriter
	mu  sync.Mutex
	all []byte
}

func (s *sniffer) Read(p []byte) (int, error) {
	n, err := s.ReadWriter.Read(p)
	s.mu.Lock()
	s.all = append(s.all, p[:n]...)
	s.mu.Unlock()
	return n, err
}

func (s *sniffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.all = append(s.all, p...)
	s.mu.Unlock()
	return s.ReadWriter.Write(p)
}

func TestSecureChannelThreePDsOneBus(t *testing.T) {
	opt := fastOptions
	opt.RequireSecure = true
	var sn *sniffer
	l := securePipeLane(t, opt, allKeyed(), func(rw io.ReadWriter) io.ReadWriter { sn = &sniffer{ReadWriter: rw}; return sn }, addrCard, addrBio, addrDoor)
	for _, a := range []byte{addrCard, addrBio, addrDoor} {
		ev := l.ev.waitFor(t, 0, "PDOnline", isOnline(a)).(osdp.PDOnline)
		if !ev.Secure || ev.DefaultKey {
			t.Fatalf("PD 0x%02X online with Secure=%v DefaultKey=%v, want a session with its own key", a, ev.Secure, ev.DefaultKey)
		}
		if sec, _ := l.cp.Secure(a); !sec || !l.bus.Secure(a) {
			t.Fatalf("PD 0x%02X: no session on both sides", a)
		}
	}
	ctx := ctxT(t)
	m := l.ev.mark()
	l.card.Present("987654321098")
	ev := l.ev.waitFor(t, m, "CardRead", isCard).(osdp.CardRead)
	if ev.Number != "987654321098" {
		t.Fatalf("CardRead %+v", ev)
	}
	if err := l.cp.Output(ctx, addrDoor, OutputExitDoor, osdp.OutputPulse, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := l.cp.Text(ctx, addrCard, osdp.Text{Control: 1, Row: 1, Col: 1, Text: "SECRET GREETING"}); err != nil {
		t.Fatal(err)
	}
	if err := l.cp.BioRead(ctx, addrBio, osdp.BioReadRequest{Format: osdp.BioFormatTemplate}); err != nil {
		t.Fatal(err)
	}
	tmpl := bytes.Repeat([]byte("minutiae"), 50)
	m = l.ev.mark()
	l.bio.PlaceFinger(tmpl, 80)
	bev := l.ev.waitFor(t, m, "BioRead", func(e osdp.Event) bool { _, ok := e.(osdp.BioRead); return ok }).(osdp.BioRead)
	if !bytes.Equal(bev.Template, tmpl) {
		t.Fatal("template changed on the way")
	}
	if l.door.PulseCount(OutputExitDoor) != 1 || l.card.LastText() != "SECRET GREETING" {
		t.Fatalf("pulses %v, text %q", l.door.Pulses(), l.card.LastText())
	}
	sn.mu.Lock()
	wire := append([]byte(nil), sn.all...)
	sn.mu.Unlock()
	for _, secret := range [][]byte{[]byte("SECRET GREETING"), []byte("987654321098"), []byte("minutiae")} {
		if bytes.Contains(wire, secret) {
			t.Fatalf("%q crossed the wire in clear", secret)
		}
	}
	bs := l.bus.Stats()
	if bs.Handshakes != 3 || bs.MACErrors != 0 || bs.ClearRefused != 0 {
		t.Fatalf("bus stats %+v: want 3 handshakes, no MAC errors, nothing refused", bs)
	}
	for _, s := range l.cp.Stats() {
		if !s.Secure || s.Handshakes != 1 || s.MACErrors != 0 {
			t.Fatalf("CP stats %+v", s)
		}
	}
}

func offlineFor(addr byte) func(osdp.Event) bool {
	return func(e osdp.Event) bool { o, ok := e.(osdp.PDOffline); return ok && o.Addr == addr }
}

func TestPDsThatWillNotEstablishStayOfflineWithReason(t *testing.T) {
	opt := fastOptions
	opt.RequireSecure = true
	opt.OfflineProbeInterval = 30 * time.Millisecond
	sc := allKeyed()
	sc.cp[addrCard] = osdp.PDConfig{SCBK: bytes.Repeat([]byte{0xEE}, 16)} // wrong key
	sc.cp[addrBio] = osdp.PDConfig{}                                      // no key, secure required
	delete(sc.pds, addrDoor)                                              // the door board has no Secure Channel
	l := securePipeLane(t, opt, sc, nil)
	for _, c := range []struct {
		addr byte
		want string
	}{{addrCard, "another key"}, {addrBio, "no SCBK is configured"}, {addrDoor, "refused Secure Channel"}} {
		ev := l.ev.waitFor(t, 0, "PDOffline", offlineFor(c.addr)).(osdp.PDOffline)
		if !strings.Contains(ev.Reason, c.want) {
			t.Errorf("PD 0x%02X offline because %q, want it to say %q", c.addr, ev.Reason, c.want)
		}
	}
	time.Sleep(200 * time.Millisecond) // several more probes
	for _, s := range l.cp.Stats() {
		if s.Online || s.Reason == "" {
			t.Errorf("PD %+v: want offline with a reason", s)
		}
	}
	// One report per reason, not one per probe.
	n := 0
	l.ev.mu.Lock()
	for _, e := range l.ev.events {
		if _, ok := e.(osdp.PDOffline); ok {
			n++
		}
	}
	l.ev.mu.Unlock()
	if n != 3 {
		t.Errorf("%d PDOffline events, want 3", n)
	}
	if _, err := l.cp.Send(ctxT(t), addrCard, osdp.CmdPOLL, nil); !errors.Is(err, osdp.ErrPDOffline) {
		t.Fatalf("Send to a refused PD: %v", err)
	}
	if c := l.card.Log(); len(c) != 0 {
		t.Fatalf("the card reader executed %v without a session", c)
	}
}

func TestInstallModeKeySetThenSecureWithNewKey(t *testing.T) {
	opt := fastOptions
	opt.RequireSecure = true
	sc := allKeyed()
	sc.cp[addrDoor] = osdp.PDConfig{InstallMode: true}
	sc.pds[addrDoor] = SecureConfig{InstallMode: true}
	cpSide, pdSide := net.Pipe()
	l := startSecureLane(t, cpSide, pdSide, []io.Closer{cpSide, pdSide}, opt, sc, addrDoor)
	ev := l.ev.waitFor(t, 0, "PDOnline door", isOnline(addrDoor)).(osdp.PDOnline)
	if !ev.Secure || !ev.DefaultKey {
		t.Fatalf("door board online Secure=%v DefaultKey=%v, want SCBK-D", ev.Secure, ev.DefaultKey)
	}
	newKey := []byte("0123456789abcdef")
	ctx := ctxT(t)
	if err := l.cp.KeySet(ctx, addrDoor, osdp.SCBKD[:]); err == nil {
		t.Fatal("KeySet accepted SCBK-D as the new key")
	}
	if err := l.cp.KeySet(ctx, addrDoor, newKey); err != nil {
		t.Fatalf("KeySet: %v", err)
	}
	if !bytes.Equal(l.bus.SCBK(addrDoor), newKey) || l.bus.InstallMode(addrDoor) {
		t.Fatal("the PD did not take the key or stayed in install mode")
	}
	// The CP set up a fresh session with the new key at once.
	if err := l.cp.Output(ctx, addrDoor, OutputEntryDoor, osdp.OutputPulse, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if sec, def := l.cp.Secure(addrDoor); !sec || def {
		t.Fatalf("after KeySet: secure=%v default=%v, want the new key", sec, def)
	}
	if l.bus.Stats().Handshakes < 2 || l.bus.Stats().KeySets != 1 {
		t.Fatalf("bus stats %+v", l.bus.Stats())
	}

	// Reconnect: a new control panel configured with the stored key and no
	// install mode talks to the same PD (its key kept).
	cp2, pd2 := net.Pipe()
	sc2 := allKeyed()
	sc2.cp[addrDoor] = osdp.PDConfig{SCBK: newKey}
	sc2.pds[addrDoor] = SecureConfig{SCBK: l.bus.SCBK(addrDoor)}
	l2 := startSecureLane(t, cp2, pd2, []io.Closer{cp2, pd2}, opt, sc2, addrDoor)
	if err := l2.cp.Output(ctxT(t), addrDoor, OutputExitDoor, osdp.OutputPulse, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// And SCBK-D no longer works on it.
	cp3, pd3 := net.Pipe()
	sc3 := allKeyed()
	sc3.cp[addrDoor] = osdp.PDConfig{InstallMode: true}
	sc3.pds[addrDoor] = SecureConfig{SCBK: newKey}
	l3 := startSecureLane(t, cp3, pd3, []io.Closer{cp3, pd3}, opt, sc3)
	off := l3.ev.waitFor(t, 0, "PDOffline", offlineFor(addrDoor)).(osdp.PDOffline)
	if !strings.Contains(off.Reason, "refused") && !strings.Contains(off.Reason, "own key") {
		t.Fatalf("SCBK-D against a keyed PD: offline because %q", off.Reason)
	}
}

// secureCP plays the control panel by hand over a raw pipe to a keyed door
// board, to send exactly the frames a test wants.
type secureCP struct {
	t    *testing.T
	c    net.Conn
	ch   *osdp.Channel
	rmac [16]byte
	seq  uint8
}

func handshakeRaw(t *testing.T, c net.Conn, key []byte) *secureCP {
	rndA := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	f, _, err := exchange(t, c, osdp.Frame{Addr: addrDoor, Seq: 1, UseCRC: true, SecurityBlock: osdp.HandshakeBlock(osdp.SCS11, osdp.KeySCBK), Code: osdp.CmdCHLNG, Data: rndA[:]})
	if err != nil || f.Code != osdp.ReplyCCRYPT {
		t.Fatalf("CHLNG: %v %v", f, err)
	}
	cc, _ := osdp.ParseCCrypt(f.Data)
	ch, _ := osdp.NewChannel(key, rndA)
	if ch.ClientCryptogram(rndA, cc.RndB) != cc.ClientCryptogram {
		t.Fatal("client cryptogram")
	}
	server := ch.ServerCryptogram(rndA, cc.RndB)
	f, _, err = exchange(t, c, osdp.Frame{Addr: addrDoor, Seq: 2, UseCRC: true, SecurityBlock: osdp.HandshakeBlock(osdp.SCS13, osdp.KeySCBK), Code: osdp.CmdSCRYPT, Data: server[:]})
	if err != nil || f.Code != osdp.ReplyRMACI || f.SecurityBlock[2] != 1 {
		t.Fatalf("SCRYPT: %v %v", f, err)
	}
	return &secureCP{t: t, c: c, ch: ch, rmac: ch.InitialRMAC(server), seq: 2}
}

// send seals and sends a command, returning its wire bytes and the opened
// reply.
func (s *secureCP) send(code byte, data []byte) ([]byte, osdp.Frame) {
	s.seq = s.seq%3 + 1
	raw, cmac, err := s.ch.Seal(osdp.Frame{Addr: addrDoor, Seq: s.seq, Code: code, Data: data}, s.rmac)
	if err != nil {
		s.t.Fatal(err)
	}
	f, _, err := exchangeRaw(s.t, s.c, raw)
	if err != nil {
		s.t.Fatalf("%s: %v", osdp.CommandName(code), err)
	}
	g, rmac, err := s.ch.Open(f, cmac)
	if err != nil {
		s.t.Fatalf("%s reply: %v", osdp.CommandName(code), err)
	}
	s.rmac = rmac
	return raw, g
}

func TestReplayedAndForgedFramesAreDroppedAndCounted(t *testing.T) {
	c, door, bus := rawBus(t)
	bus.SetSecure(addrDoor, SecureConfig{SCBK: keyDoor})
	// Without a session, clear commands are refused.
	f, _, err := exchange(t, c, osdp.Frame{Addr: addrDoor, Seq: 3, UseCRC: true, Code: osdp.CmdOUT, Data: osdp.Output{Number: 1, Control: osdp.OutputPulse, Timer: 5}.Marshal()})
	if err != nil || f.Code != osdp.ReplyNAK || osdp.NakReason(f.Data[0]) != osdp.NakSecureCondition {
		t.Fatalf("clear OUT: %v %v", f, err)
	}
	s := handshakeRaw(t, c, keyDoor)
	outRaw, reply := s.send(osdp.CmdOUT, osdp.Output{Number: 1, Control: osdp.OutputPulse, Timer: 5}.Marshal())
	if reply.Code != osdp.ReplyACK || door.PulseCount(1) != 1 {
		t.Fatalf("sealed OUT: %v, pulses %d", reply, door.PulseCount(1))
	}
	s.send(osdp.CmdPOLL, nil)
	// Replay the captured OUT: its sequence number is not the last one, so
	// the PD checks its MAC against the current chain, which fails.
	f, _, err = exchangeRaw(t, c, outRaw)
	if err != nil || f.Code != osdp.ReplyNAK || osdp.NakReason(f.Data[0]) != osdp.NakSecureCondition {
		t.Fatalf("replayed OUT answered %v %v, want NAK", f, err)
	}
	// A forged OUT: one data byte changed, CRC recomputed.
	s.seq = s.seq%3 + 1
	raw, _, _ := s.ch.Seal(osdp.Frame{Addr: addrDoor, Seq: s.seq, Code: osdp.CmdOUT, Data: osdp.Output{Number: 0, Control: osdp.OutputPulse, Timer: 5}.Marshal()}, s.rmac)
	raw[8] ^= 0x01
	crc := osdp.CRC16(raw[:len(raw)-2])
	raw[len(raw)-2], raw[len(raw)-1] = byte(crc), byte(crc>>8)
	if f, _, err = exchangeRaw(t, c, raw); err != nil || f.Code != osdp.ReplyNAK {
		t.Fatalf("forged OUT answered %v %v", f, err)
	}
	if door.PulseCount(0) != 0 || door.PulseCount(1) != 1 {
		t.Fatalf("pulses %v: a replayed or forged frame was executed", door.Pulses())
	}
	if st := bus.Stats(); st.MACErrors != 2 || st.ClearRefused != 1 {
		t.Fatalf("bus stats %+v, want 2 MAC errors and 1 clear command refused", st)
	}
	// The session survives forgeries: the real CP goes on.
	s.seq-- // the forged frame's number was never accepted
	if s.seq == 0 {
		s.seq = 3
	}
	if _, r := s.send(osdp.CmdOUT, osdp.Output{Number: 2, Control: osdp.OutputPulse, Timer: 5}.Marshal()); r.Code != osdp.ReplyACK || door.PulseCount(2) != 1 {
		t.Fatalf("OUT after the forgeries: %v", r)
	}
}

// macBreaker damages the MAC of the first few secure replies of the PDs
// (fixing the CRC, so only the MAC check can catch it).
type macBreaker struct {
	io.ReadWriter
	mu   sync.Mutex
	left int
}

func (m *macBreaker) Write(p []byte) (int, error) {
	m.mu.Lock()
	f, n, err := osdp.Decode(p)
	if err == nil && n == len(p) && osdp.IsSecureMessage(f) && m.left > 0 {
		m.left--
		q := append([]byte(nil), p...)
		q[len(q)-3] ^= 0xFF // last MAC byte
		crc := osdp.CRC16(q[:len(q)-2])
		q[len(q)-2], q[len(q)-1] = byte(crc), byte(crc>>8)
		p = q
	}
	m.mu.Unlock()
	return m.ReadWriter.Write(p)
}

func TestControlPanelDropsRepliesWithBadMAC(t *testing.T) {
	var mb *macBreaker
	l := securePipeLane(t, fastOptions, allKeyed(), func(rw io.ReadWriter) io.ReadWriter { mb = &macBreaker{ReadWriter: rw}; return mb }, addrCard, addrBio, addrDoor)
	m := l.ev.mark()
	mb.mu.Lock()
	mb.left = 2
	mb.mu.Unlock()
	l.card.Present("1234")
	ev := l.ev.waitFor(t, m, "CardRead", isCard).(osdp.CardRead)
	if ev.Number != "1234" {
		t.Fatal(ev)
	}
	var macErrs uint64
	for _, s := range l.cp.Stats() {
		macErrs += s.MACErrors
	}
	if macErrs != 2 {
		t.Fatalf("CP counted %d MAC errors, want 2", macErrs)
	}
	// Exactly one card read: the damaged replies were never acted on.
	time.Sleep(100 * time.Millisecond)
	n := 0
	l.ev.mu.Lock()
	for _, e := range l.ev.events[m:] {
		if isCard(e) {
			n++
		}
	}
	l.ev.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d card reads, want 1", n)
	}
}

func TestPDRebootAndBusyAndComSet(t *testing.T) {
	l := securePipeLane(t, fastOptions, allKeyed(), nil, addrCard, addrBio, addrDoor)
	ctx := ctxT(t)
	before := l.bus.Stats().Handshakes
	l.bus.Reboot(addrDoor)
	// The next command meets a PD without a session: NAK, new session.
	deadline := time.Now().Add(wait)
	for l.bus.Stats().Handshakes == before {
		if time.Now().After(deadline) {
			t.Fatal("no new handshake after the PD rebooted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var err error
	for i := 0; i < 20; i++ { // a command racing the re-handshake may be refused once
		if err = l.cp.Output(ctx, addrDoor, OutputExitDoor, osdp.OutputPulse, 100*time.Millisecond); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Output after reboot: %v", err)
	}
	l.bus.SetBusy(addrDoor, 3)
	if err := l.cp.Output(ctx, addrDoor, OutputEntryDoor, osdp.OutputPulse, 100*time.Millisecond); err != nil {
		t.Fatalf("Output through BUSY: %v", err)
	}
	if l.door.PulseCount(OutputEntryDoor) != 1 || l.cp.Stats()[2].Busy < 3 {
		t.Fatalf("pulses %v busy %d", l.door.Pulses(), l.cp.Stats()[2].Busy)
	}
	cs, err := l.cp.ComSet(ctx, addrDoor, 230400)
	if err != nil || cs.Baud != 230400 || l.door.Baud() != 230400 {
		t.Fatalf("ComSet: %+v %v (PD at %d)", cs, err, l.door.Baud())
	}
	if _, err := l.cp.Send(ctx, addrDoor, osdp.CmdCOMSET, osdp.ComSettings{Addr: 9, Baud: 9600}.Marshal()); err == nil {
		t.Fatal("address change accepted by the simulator")
	}
}

// TestNoisyLineSecure: 1% of the bytes corrupted (and some dropped and
// duplicated) while cards are read and the door pulsed: no card read lost or
// duplicated, no pulse duplicated, no spurious pulse.
func TestNoisyLineSecure(t *testing.T) {
	cpEnd, pdEnd, line := faultlink.New(faultlink.Config{Corrupt: 0.01, Drop: 0.001, Duplicate: 0.001, Seed: 42})
	opt := fastOptions
	opt.ReplyTimeout = 40 * time.Millisecond
	opt.Retries = 5
	opt.RequireSecure = true
	l := startSecureLane(t, cpEnd, pdEnd, []io.Closer{line}, opt, allKeyed(), addrCard, addrBio, addrDoor)
	ctx := ctxT(t)
	const cards, pulses = 40, 15
	m := l.ev.mark()
	ok := map[time.Duration]bool{}
	sent := 0
	for i := 0; i < cards; i++ {
		l.card.Present(fmt.Sprintf("%08d", 10000000+i))
		if i%3 == 0 && sent < pulses {
			sent++
			d := time.Duration(sent) * 100 * time.Millisecond // the duration names the pulse
			if err := l.cp.Output(ctx, addrDoor, OutputExitDoor, osdp.OutputPulse, d); err == nil {
				ok[d] = true
			} else {
				t.Logf("Output %v: %v", d, err)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	seen := map[string]int{}
	deadline := time.Now().Add(wait)
	for len(seen) < cards && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		seen = map[string]int{}
		l.ev.mu.Lock()
		for _, e := range l.ev.events[m:] {
			if c, isC := e.(osdp.CardRead); isC {
				seen[c.Number]++
			}
		}
		l.ev.mu.Unlock()
	}
	for i := 0; i < cards; i++ {
		if n := seen[fmt.Sprintf("%08d", 10000000+i)]; n != 1 {
			t.Errorf("card %d read %d times, want 1", i, n)
		}
	}
	got := map[time.Duration]int{}
	for _, p := range l.door.Pulses() {
		got[p.Duration]++
	}
	for d, n := range got {
		if n > 1 {
			t.Errorf("pulse %v executed %d times", d, n)
		}
	}
	for d := range ok {
		if got[d] != 1 {
			t.Errorf("pulse %v acknowledged but executed %d times", d, got[d])
		}
	}
	if len(got) > pulses {
		t.Errorf("%d distinct pulses, more than the %d sent", len(got), pulses)
	}
	st := line.Stats()
	var crc, resync uint64
	for _, s := range l.cp.Stats() {
		crc += s.CRCErrors
		resync += s.Resyncs
	}
	t.Logf("line %+v; CP CRC errors %d, resyncs %d; bus %+v", st, crc, resync, l.bus.Stats())
	if st.Corrupted == 0 {
		t.Fatal("the rig corrupted nothing")
	}
}

func TestSecureLaneOverPseudoTerminal(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("pty.Open: %v", err)
	}
	port, err := serialport.Open(slave.Name(), 115200)
	slave.Close()
	if err != nil {
		master.Close()
		t.Fatalf("serialport.Open(%s): %v", slave.Name(), err)
	}
	if err := port.SetReadTimeout(50 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	opt := fastOptions
	opt.RequireSecure = true
	l := startSecureLane(t, port, master, []io.Closer{port, master}, opt, allKeyed(), addrCard, addrBio, addrDoor)
	m := l.ev.mark()
	l.card.Present("555000111")
	if ev := l.ev.waitFor(t, m, "CardRead", isCard).(osdp.CardRead); ev.Number != "555000111" {
		t.Fatal(ev)
	}
	if err := l.cp.Output(ctxT(t), addrDoor, OutputExitDoor, osdp.OutputPulse, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if l.door.PulseCount(OutputExitDoor) != 1 || l.bus.Stats().Handshakes != 3 {
		t.Fatalf("pulses %v bus %+v", l.door.Pulses(), l.bus.Stats())
	}
}
