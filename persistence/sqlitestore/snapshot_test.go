package sqlitestore

import (
	"context"
	"testing"
)

// TestActiveEventsPage: pages walk the active events in (after, upto] in
// log order, skip expired ones, and ignore events committed above upto.
func TestActiveEventsPage(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	a := mkEvent("n1", 1, 1000, 5000)
	expired := mkEvent("n1", 2, 1000, 1500)
	b := mkEvent("n1", 3, 1000, 5000)
	c := mkEvent("n1", 4, 1000, 5000)
	insertEvents(t, s, a, expired, b, c)
	upto, err := s.LastEventID(ctx)
	if err != nil || upto != 4 {
		t.Fatalf("LastEventID = %d, %v", upto, err)
	}
	later := mkEvent("n1", 5, 1000, 5000) // committed after the snapshot began
	insertEvents(t, s, later)

	tests := []struct {
		after   int64
		limit   int
		wantIDs []int64
	}{
		{0, 2, []int64{1, 3}},
		{3, 2, []int64{4}},
		{4, 2, nil},
		{0, 10, []int64{1, 3, 4}},
	}
	for _, tt := range tests {
		got, err := s.ActiveEventsPage(ctx, 2000, tt.after, upto, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, e := range got {
			ids = append(ids, e.ID)
			if e.Event.EventID == expired.EventID || e.Event.EventID == later.EventID {
				t.Errorf("page after %d holds %s", tt.after, e.Event.EventID)
			}
			if len(e.Event.Sig) == 0 {
				t.Errorf("event %d has no signature", e.ID)
			}
		}
		if len(ids) != len(tt.wantIDs) {
			t.Fatalf("after %d limit %d: ids %v, want %v", tt.after, tt.limit, ids, tt.wantIDs)
		}
		for i := range ids {
			if ids[i] != tt.wantIDs[i] {
				t.Fatalf("after %d limit %d: ids %v, want %v", tt.after, tt.limit, ids, tt.wantIDs)
			}
		}
	}
}
