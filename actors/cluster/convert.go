package cluster

import (
	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/remote"
)

// ToProto converts events to their wire form. The Sig and Data slices are
// shared, not copied.
func ToProto(events []revocation.Event) []*remote.Event {
	out := make([]*remote.Event, len(events))
	for i := range events {
		e := &events[i]
		out[i] = &remote.Event{
			EventId: e.EventID, Type: string(e.Type), Value: e.Value, Ts: e.TS, ExpiresAt: e.ExpiresAt,
			Reason: e.Reason, Origin: e.Origin, Seq: e.Seq, KeyId: e.KeyID, Alg: e.Alg, Sig: e.Sig, Data: e.Data,
		}
	}
	return out
}

// FromProto converts wire events back, skipping nil entries. Nothing is
// validated here: the receiver's Ingest checks fields and signatures.
func FromProto(events []*remote.Event) []revocation.Event {
	out := make([]revocation.Event, 0, len(events))
	for _, e := range events {
		if e == nil {
			continue
		}
		out = append(out, revocation.Event{
			EventID: e.EventId, Type: revocation.Type(e.Type), Value: e.Value, TS: e.Ts, ExpiresAt: e.ExpiresAt,
			Reason: e.Reason, Origin: e.Origin, Seq: e.Seq, KeyID: e.KeyId, Alg: e.Alg, Sig: e.Sig, Data: nonEmpty(e.Data),
		})
	}
	return out
}

// nonEmpty returns b, or nil when b is empty: an absent proto bytes field
// and an empty one are the same, and a revocation has Data nil.
func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
