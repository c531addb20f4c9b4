package sqlitestore

import (
	"bytes"
	"context"
	"testing"

	"github.com/revocd/revocd/revocation"
)

// A state event's Data survives every read path (EventsAfter,
// EventsFromOrigin, ActiveEventsPage) through InsertEvent and InsertEvents;
// a revocation keeps data NULL.
func TestStateEventDataRoundTrip(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	now := int64(1_700_000_000_000)
	key := mkEvent("a", 1, now, now+60_000)
	key.Type, key.Value, key.Data = revocation.TypeKeyState, "ed-1", []byte(`{"v":1,"kid":"ed-1"}`)
	ref := mkEvent("a", 2, now, now+60_000)
	ref.Type, ref.Data = revocation.TypeRefreshState, bytes.Repeat([]byte{0, 1, 2}, 100)
	rev := mkEvent("a", 3, now, now+60_000)
	insertEvents(t, s, key)
	commit(t, s, func(tx *Tx) {
		if _, err := tx.InsertEvents([]*revocation.Event{ref, rev}, now); err != nil {
			t.Fatalf("InsertEvents: %v", err)
		}
	})
	want := []*revocation.Event{key, ref, rev}
	check := func(name string, got []revocation.Event) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d events, want %d", name, len(got), len(want))
		}
		for i := range got {
			if got[i].Type != want[i].Type || !bytes.Equal(got[i].Data, want[i].Data) {
				t.Errorf("%s[%d] = %s with %q, want %s with %q", name, i, got[i].Type, got[i].Data, want[i].Type, want[i].Data)
			}
			if !bytes.Equal(got[i].Canonical(), want[i].Canonical()) {
				t.Errorf("%s[%d]: canonical encoding differs after the round trip", name, i)
			}
		}
	}
	after, err := s.EventsAfter(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	check("EventsAfter", flatten(after))
	fromOrigin, err := s.EventsFromOrigin(ctx, "a", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	check("EventsFromOrigin", fromOrigin)
	page, err := s.ActiveEventsPage(ctx, now, 0, 1<<62, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := flatten(page); len(got) != 1 || got[0].Type != revocation.TypeJTI {
		t.Errorf("ActiveEventsPage = %+v, want only the revocation (state events revoke nothing)", got)
	}
	var active []revocation.Type
	if err := s.ActiveRevocations(ctx, now, func(e *revocation.Event) error { active = append(active, e.Type); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(active) != 1 || active[0] != revocation.TypeJTI {
		t.Errorf("ActiveRevocations types = %v, want only the revocation", active)
	}
	if n := countRows(t, s, "SELECT COUNT(*) FROM revocation_events WHERE data IS NULL"); n != 1 {
		t.Errorf("%d rows with data NULL, want 1 (the revocation)", n)
	}
	if n := countRows(t, s, "SELECT COUNT(*) FROM revocation_events_signed WHERE data IS NOT NULL"); n != 2 {
		t.Errorf("view: %d rows with data, want 2", n)
	}
}

func flatten(se []StoredEvent) []revocation.Event {
	out := make([]revocation.Event, len(se))
	for i := range se {
		out[i] = se[i].Event
	}
	return out
}
