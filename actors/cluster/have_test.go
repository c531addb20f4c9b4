package cluster

import (
	"context"
	"maps"
	"testing"

	"github.com/revocd/revocd/revocation"
)

func events(origin string, seqs ...uint64) []revocation.Event {
	out := make([]revocation.Event, len(seqs))
	for i, s := range seqs {
		out[i] = event(origin, s)
	}
	return out
}

func TestHaveStateLoad(t *testing.T) {
	tests := []struct {
		name   string
		stored []revocation.Event
		want   map[string]uint64 // digest
	}{
		{"empty", nil, map[string]uint64{}},
		{"no gaps: counts match", append(events("self", 1, 2, 3), events("x", 1, 2)...), map[string]uint64{"self": 3, "x": 2}},
		{"gap in a remote origin", append(events("self", 1, 2), events("x", 1, 2, 4, 5)...), map[string]uint64{"self": 2, "x": 2}},
		{"remote origin missing its start", events("x", 3, 4), map[string]uint64{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStore()
			st.insert(tc.stored)
			h := newHaveState("self")
			if err := h.load(context.Background(), st); err != nil {
				t.Fatal(err)
			}
			if got := h.digest(); !maps.Equal(got, tc.want) {
				t.Fatalf("digest = %v, want %v", got, tc.want)
			}
			for _, e := range tc.stored {
				if !h.has(e.Origin, e.Seq) {
					t.Errorf("has(%s, %d) = false for a stored event", e.Origin, e.Seq)
				}
			}
		})
	}
}

func TestHaveStateTracksGapsAndLag(t *testing.T) {
	h := newHaveState("self")
	steps := []struct {
		name       string
		add        []revocation.Event
		local      uint64
		wantDigest map[string]uint64
		absent     [][2]any // origin, seq not held
	}{
		{"in order", events("x", 1, 2), 0, map[string]uint64{"x": 2}, [][2]any{{"x", uint64(3)}}},
		{"beyond a gap", events("x", 4, 6), 0, map[string]uint64{"x": 2}, [][2]any{{"x", uint64(3)}, {"x", uint64(5)}}},
		{"gap filled", events("x", 3), 0, map[string]uint64{"x": 4}, [][2]any{{"x", uint64(5)}}},
		{"rest filled, duplicates ignored", events("x", 5, 5, 2), 0, map[string]uint64{"x": 6}, nil},
		{"local commits", nil, 9, map[string]uint64{"x": 6, "self": 9}, [][2]any{{"self", uint64(10)}}},
	}
	for _, s := range steps {
		h.addCommitted(s.add)
		if s.local > 0 {
			h.noteLocal(s.local)
		}
		if got := h.digest(); !maps.Equal(got, s.wantDigest) {
			t.Fatalf("%s: digest = %v, want %v", s.name, got, s.wantDigest)
		}
		for _, a := range s.absent {
			if h.has(a[0].(string), a[1].(uint64)) {
				t.Errorf("%s: has(%v, %v) = true", s.name, a[0], a[1])
			}
		}
	}
	lagTests := []struct {
		peer   string
		theirs map[string]uint64
		want   uint64
		covers bool
	}{
		{"p", map[string]uint64{}, 15, true},
		{"p", map[string]uint64{"x": 6, "self": 9}, 0, true},
		{"p", map[string]uint64{"x": 2, "p": 40}, 13, false},
		{"x", map[string]uint64{"self": 5}, 4, true},
		{"p", map[string]uint64{"x": 7}, 9, false},
	}
	for _, tc := range lagTests {
		if got := h.lag(tc.peer, tc.theirs); got != tc.want {
			t.Errorf("lag(%s, %v) = %d, want %d", tc.peer, tc.theirs, got, tc.want)
		}
		if got := h.covers(tc.theirs); got != tc.covers {
			t.Errorf("covers(%v) = %v, want %v", tc.theirs, got, tc.covers)
		}
	}
}

func TestHaveStateRefreshSeesOtherPaths(t *testing.T) {
	st := newMemStore()
	h := newHaveState("self")
	if err := h.load(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	// Events arrive in the store without passing through the replicator
	// (Kafka), more than one page of them, and local ones.
	var many []uint64
	for s := uint64(1); s <= 3*PageSize+5; s++ {
		many = append(many, s)
	}
	st.insert(events("k", many...))
	st.insert(events("self", 1, 2))
	if err := h.refresh(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"k": 3*PageSize + 5, "self": 2}
	if got := h.digest(); !maps.Equal(got, want) {
		t.Fatalf("digest = %v, want %v", got, want)
	}
}
