package kafka

import (
	"errors"
	"fmt"

	"github.com/revocd/revocd/revocation"
)

// MaxEventBytes bounds the encoded size of one revocation event record
// value; DecodeEvent rejects anything larger.
const MaxEventBytes = 64 << 10

// maxAlgLen bounds Event.Alg, which revocation.Event.Validate leaves open.
const maxAlgLen = 64

// wireEvent mirrors revocation.Event with pointer fields so that DecodeEvent
// can tell a missing (or null) field from a zero one.
type wireEvent struct {
	EventID   *string          `json:"event_id"`
	Type      *revocation.Type `json:"type"`
	Value     *string          `json:"value"`
	TS        *int64           `json:"ts"`
	ExpiresAt *int64           `json:"expires_at"`
	Reason    *string          `json:"reason"`
	Origin    *string          `json:"origin"`
	Seq       *uint64          `json:"seq"`
	KeyID     *string          `json:"key_id"`
	Alg       *string          `json:"alg"`
	Sig       *[]byte          `json:"sig"`
	// Data is a replicated-state event's payload (base64), absent for a
	// revocation; revocation.Event.Validate requires it exactly for the
	// state types.
	Data *[]byte `json:"data"`
	// Format and Batch are set in format-2 records only (see FormatSplit).
	Format *int    `json:"format"`
	Batch  *string `json:"batch"`
}

// DecodeEvent decodes one revocation event as published by Publisher.Deliver.
// It is the strict decoder the Consumer uses, exported for fuzzing and for
// other transports. It rejects: more than MaxEventBytes, anything but one
// JSON object, wrong JSON types, and a missing or null required field (every
// field but "reason" and "data"). It then checks what no committed event can violate:
// event_id, origin, key_id and sig non-empty, alg of 1 to 64 bytes, ts and expires_at
// positive, seq at least 1, and revocation.Event.Validate. Unknown fields are
// ignored, so producers may add fields. It does not verify the signature.
// A format-2 record (see FormatSplit) is an error wrapping ErrSplitRecord:
// use DecodeRecord with its batch signature header.
//
// DecodeEvent is a pure function, safe for concurrent use; it never panics.
func DecodeEvent(b []byte) (*revocation.Event, error) {
	e, ref, err := decodeWire(b)
	if err != nil {
		return nil, err
	}
	if ref != "" {
		return nil, fmt.Errorf("%w: event %q", ErrSplitRecord, e.EventID)
	}
	return e, nil
}

// event checks w's required fields and returns its event.
func (w *wireEvent) event() (*revocation.Event, error) {
	var missing []string
	need := func(present bool, name string) {
		if !present {
			missing = append(missing, name)
		}
	}
	need(w.EventID != nil, "event_id")
	need(w.Type != nil, "type")
	need(w.Value != nil, "value")
	need(w.TS != nil, "ts")
	need(w.ExpiresAt != nil, "expires_at")
	need(w.Origin != nil, "origin")
	need(w.Seq != nil, "seq")
	need(w.KeyID != nil, "key_id")
	need(w.Alg != nil, "alg")
	need(w.Sig != nil, "sig")
	if missing != nil {
		return nil, fmt.Errorf("kafka: decode event: missing required fields %v", missing)
	}
	e := &revocation.Event{
		EventID:   *w.EventID,
		Type:      *w.Type,
		Value:     *w.Value,
		TS:        *w.TS,
		ExpiresAt: *w.ExpiresAt,
		Origin:    *w.Origin,
		Seq:       *w.Seq,
		KeyID:     *w.KeyID,
		Alg:       *w.Alg,
		Sig:       *w.Sig,
	}
	if w.Reason != nil {
		e.Reason = *w.Reason
	}
	if w.Data != nil && len(*w.Data) > 0 {
		e.Data = *w.Data
	}
	if err := checkEvent(e); err != nil {
		return nil, fmt.Errorf("kafka: decode event %q: %w", e.EventID, err)
	}
	return e, nil
}

// checkEvent reports the first field of e no committed event could have.
func checkEvent(e *revocation.Event) error {
	switch {
	case e.EventID == "":
		return errors.New("empty event_id")
	case e.Origin == "":
		return errors.New("empty origin")
	case e.KeyID == "":
		return errors.New("empty key_id")
	case e.Alg == "" || len(e.Alg) > maxAlgLen:
		return fmt.Errorf("alg of %d bytes", len(e.Alg))
	case len(e.Sig) == 0:
		return errors.New("empty sig")
	case e.TS <= 0:
		return fmt.Errorf("non-positive ts %d", e.TS)
	case e.ExpiresAt <= 0:
		return fmt.Errorf("non-positive expires_at %d", e.ExpiresAt)
	case e.Seq == 0:
		return errors.New("seq 0")
	}
	return e.Validate()
}
