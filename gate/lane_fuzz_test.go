package gate

import (
	"testing"
	"time"
)

// FuzzLaneNeverOpensUnrecorded feeds random input sequences to a lane and checks the door rule:
// outside an emergency, the exit door is pulsed only in the call that records a PassageGranted
// event, and that record comes first; never more than one pulse per granted passage.
func FuzzLaneNeverOpensUnrecorded(f *testing.F) {
	f.Add([]byte{0, 1, 1, 3, 9, 9, 9})
	f.Add([]byte{0, 2, 2, 2, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, script []byte) {
		tr := validTraveller()
		tr.Enrolled = [][]byte{[]byte("finger-2")}
		lane := NewLane(Config{Direction: Entry, Location: time.UTC, RegistryMaxAge: time.Minute},
			fakeRegistry{"1000000001": tr}, fakeVerifier{})
		now := t0
		lane.Handle(now, RegistryFreshness{At: now, HQTime: now})
		for _, b := range script {
			now = now.Add(time.Duration(b%7) * 700 * time.Millisecond)
			var in Input
			switch b % 10 {
			case 0:
				in = CardPresented{At: now, Number: "1000000001"}
			case 1:
				in = SampleCaptured{At: now, Data: []byte("finger-2")}
			case 2:
				in = SampleCaptured{At: now, Data: []byte("x")}
			case 3:
				in = BeamCrossed{At: now, Sensor: ExitBeam}
			case 4:
				in = DeviceStatusChanged{At: now, Device: "bio", Online: b&16 == 0}
			case 5:
				in = RegistryFreshness{At: now, HQTime: now}
			case 6:
				in = CaptureFailed{At: now}
			case 7:
				in = ModeRequested{At: now, Mode: []Mode{InService, Maintenance, OutOfService}[int(b>>4)%3]}
			case 8:
				in = ExitDoorContact{At: now, Closed: b&16 == 0}
			default:
				in = Tick{At: now}
			}
			out := lane.Handle(now, in)
			granted := false
			for i, o := range out {
				switch o := o.(type) {
				case Record:
					if o.Event.Type == PassageGranted {
						if i != 0 {
							t.Fatalf("PassageGranted must be the first output, got index %d", i)
						}
						granted = true
					}
				case PulseDoor:
					if lane.State() == StateEmergency {
						continue
					}
					if !granted {
						t.Fatalf("door pulsed without a recorded grant: input %T, outputs %v", in, out)
					}
					if o.Door != ExitDoor {
						t.Fatalf("only the exit door opens for a traveller, got %s", o.Door)
					}
					granted = false // one pulse per grant
				}
			}
		}
	})
}
