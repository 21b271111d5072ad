package osdp

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrNotSecure: the command needs an established Secure Channel session
// (KEYSET), and the PD has none.
var ErrNotSecure = errors.New("no Secure Channel session with the PD")

// scSession is the CP's side of an established secure session with one PD.
type scSession struct {
	ch         *Channel
	rmac       [16]byte // MAC of the last verified reply: the IV of the next command's MAC
	defaultKey bool     // the session uses SCBK-D
}

// candidate is a frame sent with the PD's pending sequence number; a reply
// with that number answers one of them, and its MAC tells which.
type candidate struct {
	mac  [16]byte // the frame's MAC (zero in clear text)
	code byte
	key  []byte // KEYSET: the key it installs
}

// maxCandidates bounds how many frames may share an unanswered sequence
// number before the control panel gives up on resynchronising and starts a
// fresh session with the PD.
const maxCandidates = 8

// maxMACFailures is how many consecutive transactions with a bad-MAC reply
// and no good one make the control panel start a fresh session.
const maxMACFailures = 3

// refusedError: the PD answers but will not (or cannot) talk the way the
// configuration requires; it stays offline with this reason.
type refusedError struct{ reason string }

func (e *refusedError) Error() string { return "osdp: " + e.reason }

// KeySet installs newKey (16 bytes) as the Secure Channel Base Key of the
// PD at addr with osdp_KEYSET, sent encrypted over the established secure
// session, and switches the control panel to it: the session is set up
// again at once with the new key. The caller must store the key (for
// example in the gate's key file, never in logs) and pass it as
// PDConfig.SCBK from then on. Typical use: a new PD in install mode (SCBK-D)
// gets its own key, then the configuration leaves install mode.
//
// It fails with ErrNotSecure without a session. If the PD's ACK is lost
// (ErrNoReply) the PD may or may not have switched: the control panel then
// tries both keys at the next handshake; call KeySet again with the same
// key to be sure.
func (cp *ControlPanel) KeySet(ctx context.Context, addr byte, newKey []byte) error {
	if len(newKey) != 16 {
		return fmt.Errorf("osdp: KEYSET to PD 0x%02X: key of %d bytes, expected 16", addr, len(newKey))
	}
	if bytes.Equal(newKey, SCBKD[:]) {
		return fmt.Errorf("osdp: KEYSET to PD 0x%02X: the new key is the default key SCBK-D, expected a device-specific key", addr)
	}
	key := append([]byte(nil), newKey...)
	f, err := cp.submit(ctx, addr, &request{code: CmdKEYSET, data: KeySet{Type: KeyTypeSCBK, Key: key}.Marshal(), key: key})
	if err != nil {
		return err
	}
	if f.Code != ReplyACK {
		return fmt.Errorf("osdp: KEYSET to PD 0x%02X: %w: got %s, expected ACK", addr, ErrUnexpectedReply, ReplyName(f.Code))
	}
	return nil
}

// ComSet asks the PD at addr to change its baud rate (osdp_COMSET; the
// address stays the same) and returns the settings the PD reports in its
// COM reply. The PD answers at the old rate and then switches: the caller
// must then change the speed of the link itself (for a serial port, reopen
// it at the new rate). All PDs on one bus must use the same rate, so send
// ComSet to every PD of the bus first; until the link follows, the PDs do
// not answer and come back online by themselves after it does.
func (cp *ControlPanel) ComSet(ctx context.Context, addr byte, baud uint32) (ComSettings, error) {
	f, err := cp.Send(ctx, addr, CmdCOMSET, ComSettings{Addr: addr, Baud: baud}.Marshal())
	if err != nil {
		return ComSettings{}, err
	}
	if f.Code != ReplyCOM {
		return ComSettings{}, fmt.Errorf("osdp: COMSET to PD 0x%02X: %w: got %s, expected COM", addr, ErrUnexpectedReply, ReplyName(f.Code))
	}
	return ParseComSettings(f.Data)
}

// Secure tells whether a Secure Channel session with the PD at addr is
// established now, and whether it uses the default key SCBK-D.
func (cp *ControlPanel) Secure(addr byte) (secure, defaultKey bool) {
	p, ok := cp.byAddr[addr]
	if !ok {
		return false, false
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return p.stats.Secure, p.stats.DefaultKey
}

// keyInstalled records that the PD acknowledged a KEYSET: the new key is
// the PD's key, and the session is set up again with it.
func (cp *ControlPanel) keyInstalled(p *pdState, key []byte) {
	p.scbk = key
	p.pendingKey = nil
	p.tryDefault = false
	p.needEstablish = true
}

// pollOrProbe polls an online PD, or identifies one that is not online (or
// whose session must be set up again).
func (cp *ControlPanel) pollOrProbe(ctx context.Context, rx chan rxChunk, p *pdState) error {
	if !p.online {
		p.nextPoll = cp.opt.Now().Add(cp.opt.OfflineProbeInterval)
		return cp.establish(ctx, rx, p)
	}
	p.nextPoll = cp.opt.Now().Add(cp.opt.PollInterval)
	if p.needEstablish {
		return cp.establish(ctx, rx, p)
	}
	f, err := cp.transact(ctx, rx, p, CmdPOLL, nil, cp.opt.Retries, nil)
	if err != nil {
		return err
	}
	return cp.pollReply(ctx, p, f)
}

// establish runs ID (sequence number 0, which also makes the PD drop any
// old session) and CAP, then the Secure Channel handshake when the PD has a
// key or is in install mode, and reports the PD online when all succeed.
// It also sets up a fresh session with a PD that is already online.
func (cp *ControlPanel) establish(ctx context.Context, rx chan rxChunk, p *pdState) error {
	wasOnline := p.online
	p.resetSeq = true
	p.pending, p.cands = false, nil
	p.sc, p.macFails = nil, 0
	cp.stat(p, func(s *PDStats) { s.Secure, s.DefaultKey = false, false })
	retries := min(cp.opt.Retries, 1) // an absent PD costs little bus time
	if wasOnline {
		retries = cp.opt.Retries
	}
	f, err := cp.transact(ctx, rx, p, CmdID, []byte{IDRequestStandard}, retries, nil)
	if err != nil {
		if !wasOnline {
			cp.checkNeverOnline(ctx, p)
		}
		return err
	}
	if f.Code != ReplyPDID {
		return fmt.Errorf("osdp: ID to PD 0x%02X: %w: got %s, expected PDID", p.cfg.Addr, ErrUnexpectedReply, ReplyName(f.Code))
	}
	id, err := ParsePDID(f.Data)
	if err != nil {
		return err
	}
	f, err = cp.transact(ctx, rx, p, CmdCAP, []byte{0x00}, cp.opt.Retries, nil)
	if err != nil {
		return err
	}
	if f.Code != ReplyPDCAP {
		return fmt.Errorf("osdp: CAP to PD 0x%02X: %w: got %s, expected PDCAP", p.cfg.Addr, ErrUnexpectedReply, ReplyName(f.Code))
	}
	caps, err := ParsePDCAP(f.Data)
	if err != nil {
		return err
	}
	secure := p.scbk != nil || p.pendingKey != nil || p.cfg.InstallMode
	switch {
	case !secure && cp.opt.RequireSecure:
		return cp.refuse(ctx, p, "Secure Channel is required but no SCBK is configured for this PD and install mode is off")
	case !secure && p.demandsSC:
		return cp.refuse(ctx, p, "the PD requires Secure Channel (it answered NAK: security conditions not met) but no SCBK is configured for it")
	case secure:
		if err := cp.handshake(ctx, rx, p); err != nil {
			var re *refusedError
			if errors.As(err, &re) {
				return cp.refuse(ctx, p, re.reason)
			}
			return err
		}
	}
	p.needEstablish = false
	if wasOnline {
		return nil
	}
	p.online, p.everOnline, p.reportedOff, p.offReason = true, true, false, ""
	p.nextPoll = cp.opt.Now()
	sec, def := p.sc != nil, p.sc != nil && p.sc.defaultKey
	cp.stat(p, func(s *PDStats) { s.Online, s.ID, s.Reason = true, id, "" })
	return cp.emit(ctx, PDOnline{EventHeader: cp.header(p), Name: p.cfg.Name, ID: id, Caps: caps, Secure: sec, DefaultKey: def})
}

// refuse keeps the PD offline for reason, reporting it once per reason.
func (cp *ControlPanel) refuse(ctx context.Context, p *pdState, reason string) error {
	if p.online {
		cp.goOffline(ctx, p, reason)
		return &refusedError{reason}
	}
	if p.offReason != reason {
		p.offReason, p.reportedOff = reason, true
		cp.stat(p, func(s *PDStats) { s.Reason = reason })
		_ = cp.emit(ctx, PDOffline{EventHeader: cp.header(p), Name: p.cfg.Name, Reason: reason})
	}
	return &refusedError{reason}
}

// handshake sets up a Secure Channel session: CHLNG, CCRYPT, SCRYPT,
// RMAC_I. It returns a *refusedError when the PD answers but the session
// cannot be set up (no SC support, another key), and other errors when the
// PD did not answer.
func (cp *ControlPanel) handshake(ctx context.Context, rx chan rxChunk, p *pdState) (err error) {
	defer func() {
		if err != nil {
			cp.stat(p, func(s *PDStats) { s.HandshakeFailures++ })
		}
	}()
	type keyChoice struct {
		key []byte
		typ byte
	}
	var keys []keyChoice
	useDefault := p.cfg.InstallMode && ((p.scbk == nil && p.pendingKey == nil) || p.tryDefault)
	if useDefault {
		keys = []keyChoice{{SCBKD[:], KeySCBKD}}
	} else {
		if p.scbk != nil {
			keys = append(keys, keyChoice{p.scbk, KeySCBK})
		}
		if p.pendingKey != nil {
			keys = append(keys, keyChoice{p.pendingKey, KeySCBK})
		}
	}
	typ := keys[0].typ
	var rndA [8]byte
	if _, err := io.ReadFull(cp.opt.Rand, rndA[:]); err != nil {
		return fmt.Errorf("osdp: secure channel with PD 0x%02X: random number: %w", p.cfg.Addr, err)
	}
	f, err := cp.transact(ctx, rx, p, CmdCHLNG, rndA[:], cp.opt.Retries, HandshakeBlock(SCS11, typ))
	if err != nil {
		return err
	}
	if f.Code == ReplyNAK {
		return &refusedError{fmt.Sprintf("the PD refused Secure Channel: CHLNG answered with NAK %s", nakReasonOf(f))}
	}
	if f.Code != ReplyCCRYPT || len(f.SecurityBlock) < 3 || f.SecurityBlock[1] != SCS12 {
		return &refusedError{fmt.Sprintf("the PD answered CHLNG with %s, expected CCRYPT: no Secure Channel", ReplyName(f.Code))}
	}
	cc, err := ParseCCrypt(f.Data)
	if err != nil {
		return &refusedError{"bad CCRYPT from the PD: " + err.Error()}
	}
	var ch *Channel
	var key []byte
	for _, k := range keys {
		c, err := NewChannel(k.key, rndA)
		if err != nil {
			return err
		}
		want := c.ClientCryptogram(rndA, cc.RndB)
		if subtle.ConstantTimeCompare(want[:], cc.ClientCryptogram[:]) == 1 {
			ch, key = c, k.key
			break
		}
	}
	if ch == nil {
		if p.cfg.InstallMode {
			p.tryDefault = !useDefault && p.scbk != nil // alternate between the SCBK and SCBK-D
		}
		if typ == KeySCBKD {
			return &refusedError{"Secure Channel with the default key SCBK-D failed: the PD has its own key (configure its SCBK)"}
		}
		return &refusedError{"Secure Channel failed: the PD's cryptogram does not match the configured SCBK (the PD has another key)"}
	}
	server := ch.ServerCryptogram(rndA, cc.RndB)
	f, err = cp.transact(ctx, rx, p, CmdSCRYPT, server[:], cp.opt.Retries, HandshakeBlock(SCS13, typ))
	if err != nil {
		return err
	}
	if f.Code == ReplyNAK {
		return &refusedError{fmt.Sprintf("the PD refused Secure Channel: SCRYPT answered with NAK %s", nakReasonOf(f))}
	}
	if f.Code != ReplyRMACI || len(f.SecurityBlock) < 3 || f.SecurityBlock[1] != SCS14 {
		return &refusedError{fmt.Sprintf("the PD answered SCRYPT with %s, expected RMAC_I", ReplyName(f.Code))}
	}
	if f.SecurityBlock[2] != 0x01 {
		return &refusedError{"the PD did not accept the control panel's cryptogram (different keys)"}
	}
	rmacI := ch.InitialRMAC(server)
	if subtle.ConstantTimeCompare(f.Data, rmacI[:]) != 1 {
		return &refusedError{"the PD's initial R-MAC does not match (different keys)"}
	}
	p.sc = &scSession{ch: ch, rmac: rmacI, defaultKey: typ == KeySCBKD}
	if p.pendingKey != nil {
		if bytes.Equal(key, p.pendingKey) {
			p.scbk = p.pendingKey // the lost KEYSET ACK: the PD did switch
		}
		p.pendingKey = nil
	}
	if !useDefault {
		p.tryDefault = false
	}
	cp.stat(p, func(s *PDStats) { s.Handshakes++; s.Secure, s.DefaultKey = true, typ == KeySCBKD })
	return nil
}

func nakReasonOf(f Frame) string {
	if n, err := ParseNak(f.Data); err == nil {
		return fmt.Sprintf("%q (0x%02X)", n.Reason, byte(n.Reason))
	}
	return "without a reason"
}

// checkNeverOnline reports a PD that never answered since start, once.
func (cp *ControlPanel) checkNeverOnline(ctx context.Context, p *pdState) {
	if p.everOnline || p.reportedOff {
		return
	}
	if cp.opt.Now().Sub(p.lastValid) >= cp.opt.OfflineAfter {
		p.reportedOff = true
		reason := fmt.Sprintf("no reply since the control panel started %v ago", cp.opt.OfflineAfter)
		p.offReason = reason
		cp.stat(p, func(s *PDStats) { s.Reason = reason })
		_ = cp.emit(ctx, PDOffline{EventHeader: cp.header(p), Name: p.cfg.Name, Reason: reason})
	}
}

func (cp *ControlPanel) goOffline(ctx context.Context, p *pdState, reason string) {
	p.online, p.reportedOff, p.resetSeq = false, true, true
	p.offReason = reason
	p.sc, p.pending, p.cands, p.needEstablish = nil, false, nil, false
	p.nextPoll = cp.opt.Now().Add(cp.opt.OfflineProbeInterval)
	cp.stat(p, func(s *PDStats) { s.Online, s.Secure, s.DefaultKey, s.Reason = false, false, false, reason })
	cp.failQueue(p, ErrPDOffline)
	_ = cp.emit(ctx, PDOffline{EventHeader: cp.header(p), Name: p.cfg.Name, Reason: reason})
}

func (cp *ControlPanel) header(p *pdState) EventHeader {
	return EventHeader{Addr: p.cfg.Addr, Time: cp.opt.Now()}
}

func (cp *ControlPanel) emit(ctx context.Context, ev Event) error {
	select {
	case cp.events <- ev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pollReply turns the reply to a POLL into an event. A reply whose payload
// does not parse is counted in BadReplies and dropped.
func (cp *ControlPanel) pollReply(ctx context.Context, p *pdState, f Frame) error {
	ev, err := cp.pollEvent(p, f)
	if err != nil {
		cp.stat(p, func(s *PDStats) { s.BadReplies++ })
		return nil
	}
	if ev == nil {
		return nil
	}
	return cp.emit(ctx, ev)
}

func (cp *ControlPanel) pollEvent(p *pdState, f Frame) (Event, error) {
	var ev Event
	h := cp.header(p)
	switch f.Code {
	case ReplyACK:
		return nil, nil
	case ReplyRAW:
		raw, err := ParseRawCard(f.Data)
		if err != nil {
			return nil, err
		}
		num, nerr := CardNumber(raw)
		ev = CardRead{EventHeader: h, Reader: raw.Reader, Number: num, Err: nerr, Raw: raw}
	case ReplyBIOREADR:
		r, err := ParseBioReadReply(f.Data)
		if err != nil {
			return nil, err
		}
		ev = BioRead{EventHeader: h, Reader: r.Reader, Status: r.Status, Type: r.Type, Quality: r.Quality, Format: p.bioFormat, Template: r.Data}
	case ReplyISTATR:
		s, err := ParseStatus(f.Data)
		if err != nil {
			return nil, err
		}
		ev = InputStatus{EventHeader: h, Inputs: s}
	case ReplyOSTATR:
		s, err := ParseStatus(f.Data)
		if err != nil {
			return nil, err
		}
		ev = OutputStatus{EventHeader: h, Outputs: s}
	case ReplyKEYPAD:
		k, err := ParseKeypad(f.Data)
		if err != nil {
			return nil, err
		}
		ev = Keypad{EventHeader: h, Reader: k.Reader, Keys: string(k.Keys)}
	default:
		return nil, nil // NAK and other replies to POLL are counted, not events
	}
	return ev, nil
}

func (p *pdState) takeSeq() uint8 {
	if p.resetSeq {
		p.resetSeq = false
		p.lastSeq = 0
		return 0
	}
	p.lastSeq = p.lastSeq%3 + 1
	return p.lastSeq
}

// maxBusy bounds how many BUSY replies one command tolerates.
const maxBusy = 20

// transact sends one command and returns the PD's reply, repeating the same
// frame (same sequence number, same bytes, same MAC) after a reply timeout
// up to retries times. It takes the PD offline when it has given no valid
// reply for OfflineAfter.
//
// In a secure session the frame is sealed (MAC, encrypted data) and only a
// reply whose MAC checks is accepted; hsBlock, when set, is the security
// block of a handshake message, sent in clear.
//
// A frame that got no reply leaves its sequence number pending: the next
// transaction with the PD first sends a POLL with that same number. A PD
// that executed the unanswered frame answers it with its stored reply
// (delivering, for example, a card read whose reply was lost) and executes
// nothing; one that never received it executes the POLL. Either way the
// sequence numbers and the MAC chain are in step again, and no command runs
// twice or late.
func (cp *ControlPanel) transact(ctx context.Context, rx chan rxChunk, p *pdState, code byte, data []byte, retries int, hsBlock []byte) (Frame, error) {
	probe := false
	if p.pending {
		if code == CmdPOLL && hsBlock == nil {
			probe = true
		} else {
			f, err := cp.transact(ctx, rx, p, CmdPOLL, nil, retries, nil)
			if err != nil {
				return Frame{}, fmt.Errorf("osdp: %s to PD 0x%02X (%s) not sent: resynchronising: %w", CommandName(code), p.cfg.Addr, p.cfg.Name, err)
			}
			if err := cp.pollReply(ctx, p, f); err != nil {
				return Frame{}, err
			}
			if p.needEstablish && hsBlock == nil && code != CmdID && code != CmdCAP {
				return Frame{}, fmt.Errorf("osdp: %s to PD 0x%02X (%s) not sent: the PD's session must be set up again first", CommandName(code), p.cfg.Addr, p.cfg.Name)
			}
		}
	}
	var seq uint8
	if probe {
		seq = p.pendingSeq
		cp.stat(p, func(s *PDStats) { s.Resyncs++ })
	} else {
		seq = p.takeSeq()
	}
	secure := p.sc != nil && hsBlock == nil
	fr := Frame{Addr: p.cfg.Addr, Seq: seq, UseCRC: true, SecurityBlock: hsBlock, Code: code, Data: data}
	c := candidate{code: code}
	var raw []byte
	var err error
	if secure {
		raw, c.mac, err = p.sc.ch.Seal(fr, p.sc.rmac)
	} else {
		raw, err = fr.Marshal()
	}
	if err != nil {
		return Frame{}, fmt.Errorf("osdp: %s to PD 0x%02X (%s): %w", CommandName(code), p.cfg.Addr, p.cfg.Name, err)
	}
	if code == CmdKEYSET {
		c.key = p.pendingKey
	}
	if probe {
		p.cands = append(p.cands, c)
	} else {
		p.cands = []candidate{c}
	}
	busy := 0
	macBad := false
	for attempt := 0; ; attempt++ {
		// Discard stale input so that only a reply to this frame counts.
		cp.split.Reset()
	drain:
		for {
			select {
			case c := <-rx:
				if c.err != nil {
					return Frame{}, errLink{c.err}
				}
			default:
				break drain
			}
		}
		if _, err := cp.link.Write(raw); err != nil {
			return Frame{}, errLink{err}
		}
		cp.stat(p, func(s *PDStats) {
			s.FramesSent++
			if attempt > 0 {
				s.Retries++
			}
		})
		f, which, sawBadMAC, err := cp.awaitReply(ctx, rx, p, seq, secure)
		macBad = macBad || sawBadMAC
		if err == nil {
			now := cp.opt.Now()
			p.lastValid = now
			cp.stat(p, func(s *PDStats) {
				s.Replies++
				s.LastReply = now
				if f.Code == ReplyNAK {
					s.NAKs++
				}
			})
			if f.Code == ReplyBUSY {
				cp.stat(p, func(s *PDStats) { s.Busy++ })
				if busy++; busy > maxBusy {
					return Frame{}, fmt.Errorf("osdp: %s to PD 0x%02X (%s): %w: still BUSY after %d tries", CommandName(code), p.cfg.Addr, p.cfg.Name, ErrNoReply, busy)
				}
				if err := sleepCtx(ctx, cp.opt.PollInterval); err != nil {
					return Frame{}, err
				}
				attempt-- // a BUSY answer is not a lost reply
				continue
			}
			if f.Code == ReplyNAK && len(f.Data) > 0 && NakReason(f.Data[0]) == NakCheck {
				// The PD saw a damaged frame and executed nothing: repeat it.
				if attempt < retries {
					continue
				}
			}
			matched, current := p.cands[which], which == len(p.cands)-1
			p.pending, p.cands, p.macFails = false, nil, 0
			if !current {
				// The reply answers an earlier frame than this one.
				if matched.code == CmdKEYSET && f.Code == ReplyACK && matched.key != nil {
					cp.keyInstalled(p, matched.key)
				}
			}
			cp.afterNak(p, f, secure, hsBlock != nil)
			return f, nil
		}
		if ctx.Err() != nil {
			return Frame{}, ctx.Err()
		}
		var le errLink
		if errors.As(err, &le) {
			return Frame{}, err
		}
		cp.stat(p, func(s *PDStats) { s.Timeouts++ })
		if p.online && cp.opt.Now().Sub(p.lastValid) >= cp.opt.OfflineAfter {
			cp.goOffline(ctx, p, fmt.Sprintf("no valid reply for %v", cp.opt.OfflineAfter))
			return Frame{}, fmt.Errorf("osdp: %s to PD 0x%02X (%s): %w", CommandName(code), p.cfg.Addr, p.cfg.Name, ErrPDOffline)
		}
		if attempt >= retries {
			p.pending, p.pendingSeq = true, seq
			if len(p.cands) > maxCandidates {
				p.needEstablish = true
			}
			if macBad {
				if p.macFails++; p.macFails >= maxMACFailures {
					p.needEstablish = true
				}
			}
			return Frame{}, fmt.Errorf("osdp: %s to PD 0x%02X (%s): %w after %d tries of %v (the PD may have executed it; it will not execute it again)", CommandName(code), p.cfg.Addr, p.cfg.Name, ErrNoReply, attempt+1, cp.opt.ReplyTimeout)
		}
	}
}

// afterNak reacts to a NAK that says the two sides are out of step.
func (cp *ControlPanel) afterNak(p *pdState, f Frame, secure, handshake bool) {
	if f.Code != ReplyNAK || len(f.Data) == 0 {
		return
	}
	switch NakReason(f.Data[0]) {
	case NakSequence:
		p.resetSeq = true
		if secure || handshake || p.scbk != nil || p.cfg.InstallMode {
			p.needEstablish = true
		}
	case NakSecureCondition, NakSecureBlock:
		switch {
		case secure:
			// The PD lost the session (reset) or refused a MAC: start again.
			p.needEstablish = true
		case !handshake && p.sc == nil && p.scbk == nil && !p.cfg.InstallMode && p.pendingKey == nil:
			// A clear-text PD that insists on Secure Channel.
			if NakReason(f.Data[0]) == NakSecureCondition {
				p.demandsSC = true
				p.needEstablish = true
			}
		}
	}
}

var errReplyTimeout = errors.New("reply timeout")

// awaitReply waits up to ReplyTimeout for a valid reply from p with the
// given sequence number (or a BUSY, which PDs may send with sequence 0).
// In a secure session only replies whose MAC checks against one of the
// pending frames count (which tells which one), plus clear NAK and BUSY
// replies; a reply with a bad MAC is counted and dropped. Other frames are
// ignored.
func (cp *ControlPanel) awaitReply(ctx context.Context, rx chan rxChunk, p *pdState, seq uint8, secure bool) (Frame, int, bool, error) {
	t := time.NewTimer(cp.opt.ReplyTimeout)
	defer t.Stop()
	badBefore := cp.split.Stats().BadCheck
	defer func() {
		st := cp.split.Stats()
		cp.mu.Lock()
		p.stats.CRCErrors += st.BadCheck - badBefore
		cp.linkStats = st
		cp.mu.Unlock()
	}()
	sawBadMAC := false
	for {
		for {
			f, err := cp.split.Next()
			if errors.Is(err, ErrIncomplete) {
				break
			}
			if err != nil {
				continue
			}
			if !f.Reply || f.Addr != p.cfg.Addr {
				continue
			}
			if f.Seq != seq && !(f.Code == ReplyBUSY && f.Seq == 0) {
				continue
			}
			switch {
			case secure && IsSecureMessage(f):
				for i, c := range p.cands {
					g, mac, err := p.sc.ch.Open(f, c.mac)
					if err == nil {
						p.sc.rmac = mac
						return g, i, sawBadMAC, nil
					}
				}
				sawBadMAC = true
				cp.stat(p, func(s *PDStats) { s.MACErrors++ })
				continue
			case secure && f.SecurityBlock == nil && (f.Code == ReplyNAK || f.Code == ReplyBUSY):
				// A PD that lost the session (or refuses a MAC) answers in
				// clear; the NAK makes the CP set up a new session.
			case secure, IsSecureMessage(f):
				cp.stat(p, func(s *PDStats) { s.BadReplies++ })
				continue
			}
			f.Data = append([]byte(nil), f.Data...)
			f.SecurityBlock = append([]byte(nil), f.SecurityBlock...)
			return f, len(p.cands) - 1, sawBadMAC, nil
		}
		if cp.split.Stats().BadCheck > badBefore {
			// The reply came back damaged: the PD has finished talking, so
			// repeat the frame now instead of waiting out the timeout.
			return Frame{}, 0, sawBadMAC, errReplyTimeout
		}
		select {
		case <-ctx.Done():
			return Frame{}, 0, sawBadMAC, ctx.Err()
		case <-t.C:
			return Frame{}, 0, sawBadMAC, errReplyTimeout
		case c := <-rx:
			if c.err != nil {
				return Frame{}, 0, sawBadMAC, errLink{c.err}
			}
			cp.split.Feed(c.b)
		}
	}
}
