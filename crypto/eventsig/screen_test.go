package eventsig

import (
	"slices"
	"testing"
	"time"

	"github.com/revocd/revocd/revocation"
)

// TestScreen: every reason a receiver drops an event, and that Screen
// records nothing in the replay guard (an accepted event is not a replay
// of itself when it is delivered again before it was made durable).
func TestScreen(t *testing.T) {
	ev := signed(t, 6)
	other, err := NewSigner("untrusted", detRand(9))
	if err != nil {
		t.Fatal(err)
	}
	untrusted := makeEvents(1)[0]
	untrusted.EventID = "evt-untrusted"
	if err := other.SignBatch([]*revocation.Event{untrusted}); err != nil {
		t.Fatal(err)
	}
	tampered := clone(ev[1])
	tampered.Value = "someone-else"
	unsigned := clone(ev[2])
	unsigned.Sig = nil
	malformed := clone(ev[3])
	malformed.Type = "bogus"
	guard := NewReplayGuard(time.Minute, nil)
	guard.Record(ev[4].EventID) // durable already

	in := []revocation.Event{*ev[0], *tampered, *unsigned, *malformed, *ev[4], *untrusted, *ev[5], *ev[0]}
	accepted, refused := Screen(trusting(t, sharedSigner(t)), guard, in)

	var gotIDs []string
	for _, e := range accepted {
		gotIDs = append(gotIDs, e.EventID)
	}
	if want := []string{ev[0].EventID, ev[5].EventID}; !slices.Equal(gotIDs, want) {
		t.Fatalf("accepted %v, want %v", gotIDs, want)
	}
	want := []Refused{
		{EventID: tampered.EventID, Reason: DropBadSignature},
		{EventID: unsigned.EventID, Reason: DropUnsigned},
		{EventID: malformed.EventID, Reason: DropMalformed},
		{EventID: ev[4].EventID, Reason: DropReplay},
		{EventID: untrusted.EventID, Reason: DropUnknownKey},
		{EventID: ev[0].EventID, Reason: DropReplay},
	}
	if len(refused) != len(want) {
		t.Fatalf("refused %+v, want %+v", refused, want)
	}
	for i := range want {
		if refused[i].EventID != want[i].EventID || refused[i].Reason != want[i].Reason {
			t.Errorf("refused[%d] = %s %s, want %s %s", i, refused[i].EventID, refused[i].Reason, want[i].EventID, want[i].Reason)
		}
		if (refused[i].Err == nil) != (want[i].Reason == DropReplay) {
			t.Errorf("refused[%d] (%s): Err = %v", i, want[i].Reason, refused[i].Err)
		}
	}
	if guard.Seen(ev[0].EventID) || guard.Seen(ev[5].EventID) {
		t.Fatal("Screen recorded an accepted id: a failed commit would turn the redelivery into a replay")
	}
	// Without a guard nothing is a replay across deliveries.
	if acc, ref := Screen(trusting(t, sharedSigner(t)), nil, []revocation.Event{*ev[4]}); len(acc) != 1 || len(ref) != 0 {
		t.Fatalf("nil guard: accepted %d refused %+v", len(acc), ref)
	}
}
