package validator

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/httpapi"
)

// TestFeedSkipsStateEvents: replicated-state events (key_state,
// refresh_state) in the feed, signed by the node, are skipped: neither
// applied nor refused, and the revocation after them still applies.
func TestFeedSkipsStateEvents(t *testing.T) {
	f := newFixture(t, token.AlgEdDSA, time.Hour)
	alice := f.issue("alice", time.Hour, "") // jti-1
	for _, typ := range []revocation.Type{revocation.TypeKeyState, revocation.TypeRefreshState} {
		now := time.Now()
		e := &revocation.Event{EventID: fmt.Sprintf("ev-%d", f.seq.Add(1)), Type: typ, Value: "state", TS: now.UnixMilli(),
			ExpiresAt: now.Add(time.Hour).UnixMilli(), Origin: "n1", Seq: f.seq.Load(), Data: []byte(`{"v":1}`)}
		if err := f.signer.SignBatch([]*revocation.Event{e}); err != nil {
			t.Fatal(err)
		}
		f.log.mu.Lock()
		id := int64(len(f.log.events) + 1)
		f.log.events = append(f.log.events, httpapi.LoggedEvent{ID: id, Event: *e})
		f.log.mu.Unlock()
		f.notify.Notify(id)
	}
	v := f.open(Options{})
	f.revoke(revocation.TypeJTI, "jti-1", nil)
	waitApplied(t, v, 1)
	if _, err := v.Validate(alice); !errors.Is(err, ErrRevoked) {
		t.Fatalf("Validate after the revocation: %v, want ErrRevoked", err)
	}
	if st := v.Status(); st.Applied != 1 || st.Rejected != 0 {
		t.Fatalf("status %+v, want 1 applied, 0 rejected", st)
	}
}
