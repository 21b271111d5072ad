package display

import (
	"strconv"
	"strings"

	"ttpgate/gate"
)

// Cue is what the card and fingerprint readers do for a screen, in step with the page: the LED,
// the buzzer and the reader display's text (OSDP LED, BUZ, TEXT). Each screen differs in more
// than colour: steady, slow or fast flashing, and the number of beeps.
type Cue struct {
	Color string // LED colour: "red", "amber", "green", "blue"
	Flash int    // 0 steady; else the LED's on and off time, in 100 ms units (OSDP LED on/off time)
	Beeps int    // short beeps once on entering the screen (0 none)
	Long  bool   // one long tone instead (emergency)
	Text  string // the reader display's text: printable ASCII, at most 32 characters
}

// ReaderCue maps a screen to the readers' LED, buzzer and text. The text is the catalogue's
// "reader.<screen>" in the traveller's language when that is printable ASCII (reader displays
// show nothing else), otherwise English.
//
//	screen        LED                 buzzer
//	closed        red, steady         -
//	present-card  blue, steady        -
//	place-finger  amber, slow flash   -
//	try-again     amber, fast flash   2 beeps
//	proceed       green, steady       1 beep
//	see-officer   red, fast flash     3 beeps
//	wait          amber, steady       -
//	emergency     red, slow flash     1 long tone
//	(unknown)     as closed
func (s *Server) ReaderCue(st ScreenState) Cue {
	screen := st.Screen
	if !known(screen) {
		screen = string(gate.ScreenClosed)
	}
	var c Cue
	switch gate.Screen(screen) {
	case gate.ScreenClosed:
		c = Cue{Color: "red"}
	case gate.ScreenPresentCard:
		c = Cue{Color: "blue"}
	case gate.ScreenPlaceFinger:
		c = Cue{Color: "amber", Flash: 5}
	case gate.ScreenTryAgain:
		c = Cue{Color: "amber", Flash: 2, Beeps: 2}
	case gate.ScreenProceed:
		c = Cue{Color: "green", Beeps: 1}
	case gate.ScreenSeeOfficer:
		c = Cue{Color: "red", Flash: 2, Beeps: 3}
	case gate.ScreenWait:
		c = Cue{Color: "amber"}
	case gate.ScreenEmergency:
		c = Cue{Color: "red", Flash: 5, Long: true}
	}
	lang := Fallback
	if st.Language != "" {
		lang = s.cats.Match(st.Language)
	}
	fill := strings.NewReplacer("{n}", strconv.Itoa(st.Attempt), "{m}", strconv.Itoa(st.Of))
	text := ""
	if cat := s.cats.Get(lang); cat != nil {
		text = fill.Replace(cat.Messages["reader."+screen])
	}
	if text == "" || !printableASCII(text) {
		text = fill.Replace(s.cats.Text(Fallback, "reader."+screen))
	}
	if (screen == string(gate.ScreenPlaceFinger) || screen == string(gate.ScreenTryAgain)) && st.Attempt == 0 {
		text = strings.TrimSpace(strings.ReplaceAll(text, "0/0", ""))
	}
	if len(text) > 32 {
		text = text[:32]
	}
	c.Text = text
	return c
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
