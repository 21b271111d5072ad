package gate

// Reason is the stable code of a refusal or an alarm, shown to the officer and sent to HQ.
type Reason string

// Refusal reasons (DESIGN.md §3). The string values are part of the event schema: never change one.
const (
	CardUnknown     Reason = "CARD_UNKNOWN"
	CardSuperseded  Reason = "CARD_SUPERSEDED"
	CardLost        Reason = "CARD_LOST"
	CardRevoked     Reason = "CARD_REVOKED"
	CardExpired     Reason = "CARD_EXPIRED"
	PassportExpired Reason = "PASSPORT_EXPIRED"
	NotEligible     Reason = "NOT_ELIGIBLE"
	EDMissing       Reason = "ED_MISSING"
	BioMismatch     Reason = "BIO_MISMATCH"
	BioNoCapture    Reason = "BIO_NO_CAPTURE"
	RegistryStale   Reason = "REGISTRY_STALE"
	// LaneClosed refuses a card presented while the lane is out of service for another cause
	// (a device offline, maintenance, out-of-service mode).
	LaneClosed Reason = "LANE_CLOSED"
	// RegistryError refuses a card whose record could not be read from the local store.
	RegistryError Reason = "REGISTRY_ERROR"
)

// Alarm reasons raised from the lane's sensors (and from cards that must raise an alarm).
const (
	Tailgating Reason = "TAILGATING"
	DoorForced Reason = "DOOR_FORCED"
	DoorHeld   Reason = "DOOR_HELD"
	WrongWay   Reason = "WRONG_WAY"
	FireAlarm  Reason = "FIRE_ALARM"
	// OutboxHigh: the event outbox passed its alarm level (HQ unreachable for long); act before
	// it fills. OutboxFull: at its limit; events are still kept, the disk is at risk.
	OutboxHigh Reason = "OUTBOX_HIGH"
	OutboxFull Reason = "OUTBOX_FULL"
)

// TravellerMay reports whether the reason may be shown to the traveller. Reasons that reveal an
// alarm (a lost or superseded card) are shown only to the officer; the traveller is referred to
// the booth without one.
func (r Reason) TravellerMay() bool {
	switch r {
	case CardLost, CardSuperseded, CardRevoked, CardUnknown:
		return false
	}
	return true
}
