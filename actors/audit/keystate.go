package audit

import (
	"fmt"

	"github.com/revocd/revocd/revocation"
)

// KeyStateEvent is one key_state event to publish: Data is a
// revocation.KeyState payload (revocation.KeyState.Marshal) for the key
// Kid, and ExpiresAt (Unix ms) is when the log may forget it.
type KeyStateEvent struct {
	Kid       string
	Data      []byte
	ExpiresAt int64
}

// CommitKeyState publishes token signing keys through this node's signed
// log (one key_state event per state, signed with the batch) and stores the
// issuer's key ring (kv entry Name, when Blob is set) in the same
// transaction: a ring that records a key as published is never durable
// without the event. Reply: *KeyRingStored, or *Failed.
type CommitKeyState struct {
	Ref
	States []KeyStateEvent
	Name   string
	Blob   []byte
}

func (m *CommitKeyState) apply(b *batch) outcome {
	for _, s := range m.States {
		if s.Kid == "" || len(s.Data) == 0 || s.ExpiresAt <= 0 {
			return outcome{err: fmt.Errorf("audit: key state of %q: kid, data and expiry are required", s.Kid)}
		}
	}
	if len(m.Blob) > 0 {
		if err := b.tx.PutKV(m.Name, m.Blob); err != nil {
			return outcome{err: err}
		}
	}
	for _, s := range m.States {
		b.revoke(revocation.Event{Type: revocation.TypeKeyState, Value: s.Kid, Data: s.Data, ExpiresAt: s.ExpiresAt, Reason: "key state"})
	}
	return outcome{reply: &KeyRingStored{Ref: m.Ref}}
}
