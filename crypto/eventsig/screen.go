package eventsig

import (
	"errors"

	"github.com/revocd/revocd/revocation"
)

// DropReason says why a receiver refused an event. Its value is the
// "reason" label of revocd_events_dropped_total.
type DropReason string

// The reasons Screen gives.
const (
	// DropMalformed: the event fails revocation.Event.Validate.
	DropMalformed DropReason = "malformed"
	// DropUnsigned: the event carries no signature.
	DropUnsigned DropReason = "unsigned"
	// DropUnknownKey: the event is signed under a key that is not trusted.
	DropUnknownKey DropReason = "unknown_key"
	// DropBadSignature: the signature is malformed or does not verify.
	DropBadSignature DropReason = "bad_signature"
	// DropReplay: the event id was recorded as durable within the replay
	// window, or it repeats an earlier event of the same delivery.
	DropReplay DropReason = "replay"
)

// Refused is one event Screen did not accept.
type Refused struct {
	EventID string
	Reason  DropReason
	// Err is the verification error (nil for malformed and replay).
	Err error
}

// Screen is the receive rule shared by every path that takes revocation
// events from outside the node (the node's Kafka consumer and cluster
// receiver through the intake actor, and `revocd consume`): it returns the
// events that are well formed, signed under a key v trusts and not
// replays, in order and each id once, and the others with their reasons.
//
// Replays are decided against what is durable: Screen only asks guard
// (which may be nil: no replay check) and records nothing. The caller
// records each accepted id with guard.Record once the event is durable
// (committed to the audit log, written to Redis), so an event whose commit
// failed is taken again, not dropped, when it is delivered again.
//
// Screen is safe for concurrent use if v and guard are (they are).
func Screen(v *Verifier, guard *ReplayGuard, events []revocation.Event) (accepted []revocation.Event, refused []Refused) {
	accepted = make([]revocation.Event, 0, len(events))
	var ids map[string]struct{} // duplicates inside this delivery
	if len(events) > 1 {
		ids = make(map[string]struct{}, len(events))
	}
	for i := range events {
		e := &events[i]
		reason, err := screenOne(v, guard, e)
		if reason == "" {
			if _, dup := ids[e.EventID]; dup {
				reason = DropReplay
			}
		}
		if reason != "" {
			refused = append(refused, Refused{EventID: e.EventID, Reason: reason, Err: err})
			continue
		}
		if ids != nil {
			ids[e.EventID] = struct{}{}
		}
		accepted = append(accepted, *e)
	}
	return accepted, refused
}

func screenOne(v *Verifier, guard *ReplayGuard, e *revocation.Event) (DropReason, error) {
	if err := e.Validate(); err != nil {
		return DropMalformed, err
	}
	if err := v.Verify(e); err != nil {
		switch {
		case errors.Is(err, ErrUnsigned):
			return DropUnsigned, err
		case errors.Is(err, ErrUnknownKey):
			return DropUnknownKey, err
		default:
			return DropBadSignature, err
		}
	}
	if guard != nil && guard.Seen(e.EventID) {
		return DropReplay, nil
	}
	return "", nil
}
