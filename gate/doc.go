// Package gate is the lane: the TTP rules, the reason codes, the lane modes and alarms, and the
// state machine that turns what the devices report into what the devices must do.
//
// It is pure. It does no I/O and reads no clock: every input carries the time it happened and
// Lane.Handle is given the current time. The registry and the matcher are handed to it through
// the small interfaces it declares (Registry, Verifier), so the whole lane is tested, fuzzed and
// replayed deterministically in microseconds.
//
// The caller (the daemon) must commit the events a call returns, together with the lane's state,
// in one transaction before it carries out the device commands of the same call: a door never
// opens for a decision that was not recorded.
package gate
