package sqlitestore

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/revocd/revocd/revocation"
)

// TestInsertEventsMatchesInsertEvent runs the same batches through
// InsertEvents on one store and an InsertEvent loop on another and expects
// the same results and the same stored log.
func TestInsertEventsMatchesInsertEvent(t *testing.T) {
	multi, _ := openTest(t)
	single, _ := openTest(t)
	ctx := context.Background()

	a := signedBatch(t, "a", 1, 150) // 64 + 64 + 8 + 8 + 6 singles
	b := signedBatch(t, "b", 1, 20)
	foreign := mkEvent("c", 1, 3, 1e15) // not eventsig's format: stored whole
	unsigned := mkEvent("c", 2, 4, 1e15)
	unsigned.Sig = nil
	conflict := mkEvent("a", 5, 9, 1e15) // (a, 5) is taken by a[4]
	tooBig := mkEvent("c", math.MaxInt64+1, 9, 1e15)

	// Duplicates of stored events and within the batch, across chunks.
	mixed := []*revocation.Event{a[0], b[0], b[1], b[0], foreign, unsigned, a[1], b[2]}
	mixed = append(mixed, b[3:]...)
	mixed = append(mixed, b[3], b[4], a[2])

	for _, step := range []struct {
		name string
		evs  []*revocation.Event
		err  error
	}{
		{"all new", a, nil},
		{"duplicates", mixed, nil},
		{"all duplicates", append(clones(a[:70]), a[100:]...), nil},
		{"seq conflict mid-chunk", append(append(clones(signedBatch(t, "d", 1, 20)), conflict), signedBatch(t, "d", 21, 50)...), ErrSeqConflict},
		{"seq range", append(signedBatch(t, "e", 1, 9), tooBig), ErrSeqRange},
	} {
		var wantFlags []bool
		var wantErr error
		commit(t, single, func(tx *Tx) {
			for _, e := range step.evs {
				ok, err := tx.InsertEvent(e, 7)
				if err != nil {
					wantErr = err
					break
				}
				wantFlags = append(wantFlags, ok)
			}
		})
		var gotFlags []bool
		var gotErr error
		commit(t, multi, func(tx *Tx) {
			gotFlags, gotErr = tx.InsertEvents(step.evs, 7)
		})
		if !errors.Is(gotErr, step.err) || !errors.Is(wantErr, step.err) {
			t.Fatalf("%s: InsertEvents error %v, InsertEvent error %v; want %v", step.name, gotErr, wantErr, step.err)
		}
		if !reflect.DeepEqual(gotFlags, wantFlags) {
			t.Fatalf("%s: InsertEvents = %v\nInsertEvent loop = %v", step.name, gotFlags, wantFlags)
		}
	}

	want, err := single.EventsAfter(ctx, 0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	got, err := multi.EventsAfter(ctx, 0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("stored logs differ: %d vs %d events", len(got), len(want))
	}
	for i := range want { // ids may differ: only their order is a contract
		if !reflect.DeepEqual(got[i].Event, want[i].Event) || got[i].ReceivedAt != want[i].ReceivedAt {
			t.Fatalf("stored event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// a, b, d1 and e; InsertEvents also stored d21's signature before its
	// chunk failed: an unreferenced row, which is allowed.
	for s, want := range map[*Store]int{single: 4, multi: 5} {
		if n := countRows(t, s, "SELECT COUNT(*) FROM event_signatures"); n != want {
			t.Errorf("event_signatures has %d rows, want %d", n, want)
		}
	}

	tx, err := multi.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	if _, err := tx.InsertEvents(a, 1); !errors.Is(err, ErrTxDone) {
		t.Fatalf("InsertEvents after Rollback = %v, want ErrTxDone", err)
	}
}
