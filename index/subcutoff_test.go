package index

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// step is one operation of a TestSubCutoffSequences case: a reservation
// (reserve), the commit of the last reservation (commit: RevokeSub with the
// cutoff it returned), an issuance (issue), or a clock move (advance).
type step struct {
	op      string
	advance time.Duration
	want    int64 // returned cutoff or iat, relative to iatNow
}

func TestSubCutoffSequences(t *testing.T) {
	tests := []struct {
		name  string
		setup func(ix *Index)
		fatal bool // every token of the subject is revoked whatever its iat
		steps []step
	}{
		{
			name:  "no revocation: iat is the clock",
			steps: []step{{op: "issue", want: 0}, {op: "advance", advance: 1500 * time.Millisecond}, {op: "issue", want: 1}},
		},
		{
			name: "token after a revocation in the same second is not born revoked",
			steps: []step{
				{op: "issue", want: 0},
				{op: "reserve", want: 0},
				{op: "issue", want: 1},
				{op: "commit"},
				{op: "issue", want: 1},
			},
		},
		{
			name: "issue #12 item 3: a second revocation in the same second kills the token issued between",
			steps: []step{
				{op: "reserve", want: 0},
				{op: "commit"},
				{op: "issue", want: 1},   // token X
				{op: "reserve", want: 1}, // the retry: cutoff covers X
				{op: "commit"},
				{op: "issue", want: 2},
			},
		},
		{
			name: "reservations in one second climb one second each",
			steps: []step{
				{op: "reserve", want: 0},
				{op: "reserve", want: 1},
				{op: "reserve", want: 2},
				{op: "issue", want: 3},
			},
		},
		{
			name: "the clock catches up with the floor",
			steps: []step{
				{op: "reserve", want: 0},
				{op: "reserve", want: 1},
				{op: "advance", advance: 5 * time.Second},
				{op: "issue", want: 5},
				{op: "reserve", want: 5},
				{op: "issue", want: 6},
			},
		},
		{
			name:  "a committed cutoff from elsewhere (peer, start-up) is respected",
			setup: func(ix *Index) { ix.RevokeSub("alice", iatNow+3, t0+hour) },
			steps: []step{{op: "issue", want: 4}, {op: "reserve", want: 4}, {op: "issue", want: 5}},
		},
		{
			name:  "an expired cutoff no longer raises iat",
			setup: func(ix *Index) { ix.RevokeSub("alice", iatNow+3, t0+1000) },
			steps: []step{{op: "advance", advance: 2 * time.Second}, {op: "issue", want: 2}},
		},
		{
			name:  "a seed-era all-tokens revocation stays fatal",
			setup: func(ix *Index) { ix.RevokeSub("alice", math.MaxInt64, t0+hour) },
			fatal: true,
			steps: []step{{op: "issue", want: 0}, {op: "reserve", want: 0}, {op: "issue", want: 1}},
		},
		{
			name:  "another subject is not affected",
			setup: func(ix *Index) { ix.ReserveSubCutoff("bob"); ix.RevokeSub("bob", iatNow+7, t0+hour) },
			steps: []step{{op: "issue", want: 0}, {op: "reserve", want: 0}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock(t0 + 300)
			ix := New(Options{Shards: 4, Now: clk.Now})
			if tc.setup != nil {
				tc.setup(ix)
			}
			last := int64(-1)
			for i, st := range tc.steps {
				var got int64
				switch st.op {
				case "advance":
					clk.Advance(st.advance)
					continue
				case "commit":
					ix.RevokeSub("alice", last, clk.Ms()+hour)
					continue
				case "reserve":
					got = ix.ReserveSubCutoff("alice")
					last = got
				case "issue":
					got = ix.IssueIat("alice")
					if revoked := ix.Check("", "alice", "", got) != None; revoked != tc.fatal {
						t.Fatalf("step %d: token issued with iat now%+d: revoked = %v", i, got-iatNow, revoked)
					}
				}
				if got-iatNow != st.want {
					t.Fatalf("step %d (%s) = now%+d, want now%+d", i, st.op, got-iatNow, st.want)
				}
			}
		})
	}
}

// TestSubCutoffLinearizable: goroutines issue tokens of one subject while
// another reserves cutoffs and commits them, with a clock that moves in
// sub-second steps. Every token whose IssueIat returned before a
// reservation started has iat <= that cutoff; every token whose IssueIat
// started after a reservation returned has iat > that cutoff (meant for
// -race).
func TestSubCutoffLinearizable(t *testing.T) {
	clk := newFakeClock(t0)
	ix := New(Options{Shards: 2, Now: clk.Now})
	const (
		reservations = 300
		issuers      = 4
		maxSpin      = 10_000_000
	)
	cutoffs := make([]atomic.Int64, reservations+1)
	var started, done atomic.Int64 // reservations started / completed (1-based)
	type token struct {
		iat            int64
		doneBefore     int64 // reservations completed before IssueIat started
		startedAfterBy int64 // reservations started before IssueIat returned
	}
	results := make([][]token, issuers)
	// Lock-step in rounds without sleeping: reservation k waits for k*issuers
	// issuances in all, and issuers stay at most two rounds ahead, so every
	// reservation overlaps issuances. Every spin is bounded.
	var issued atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for k := int64(1); k <= reservations; k++ {
			for spin := 0; issued.Load() < k*issuers && spin < maxSpin; spin++ {
				runtime.Gosched()
			}
			if k%2 == 0 {
				// Commit the previous reservation only now: the issuances
				// since it relied on the floor alone.
				ix.RevokeSub("carol", cutoffs[k-1].Load(), clk.Ms()+hour)
			}
			started.Store(k)
			cutoffs[k].Store(ix.ReserveSubCutoff("carol"))
			done.Store(k)
			clk.Advance(time.Duration(k%7) * 100 * time.Millisecond)
		}
	})
	for g := range issuers {
		wg.Go(func() {
			for spin := 0; spin < maxSpin && done.Load() < reservations; spin++ {
				if issued.Load() >= (done.Load()+2)*issuers {
					runtime.Gosched()
					continue
				}
				before := done.Load()
				iat := ix.IssueIat("carol")
				after := started.Load()
				results[g] = append(results[g], token{iat, before, after})
				issued.Add(1)
			}
		})
	}
	wg.Wait()
	for k := 2; k <= reservations; k++ {
		if cutoffs[k].Load() <= cutoffs[k-1].Load() {
			t.Fatalf("cutoff %d = %d after %d: reservations of one subject must climb", k, cutoffs[k].Load(), cutoffs[k-1].Load())
		}
	}
	// Cutoffs climb, so the latest reservation completed before an
	// issuance and the first one started after it are the binding ones.
	checked := 0
	for _, rs := range results {
		for _, tk := range rs {
			if k := tk.doneBefore; k >= 1 && tk.iat <= cutoffs[k].Load() {
				t.Fatalf("token issued after reservation %d (cutoff %d) has iat %d: born revoked", k, cutoffs[k].Load(), tk.iat)
			}
			if k := tk.startedAfterBy + 1; k <= reservations {
				if tk.iat > cutoffs[k].Load() {
					t.Fatalf("token issued before reservation %d (cutoff %d) has iat %d: survives it", k, cutoffs[k].Load(), tk.iat)
				}
				checked++
			}
		}
	}
	if checked < reservations {
		t.Fatalf("only %d issuances happened before a later reservation: the test checked too little", checked)
	}
}

// TestFloorsArePruned: floors use memory only while they are ahead of the
// clock: Sweep drops the rest, and a shard full of stale floors prunes them
// on the next reservation.
func TestFloorsArePruned(t *testing.T) {
	clk := newFakeClock(t0)
	ix := New(Options{Shards: 1, Now: clk.Now})
	floors := func() int {
		s := &ix.shards[0]
		s.mu.RLock()
		defer s.mu.RUnlock()
		return len(s.floors)
	}
	const n = 1000
	for i := range n {
		ix.ReserveSubCutoff(fmt.Sprint("user-", i))
	}
	if got := floors(); got != n {
		t.Fatalf("%d floors after %d reservations in one second, want %d", got, n, n)
	}
	clk.Advance(2 * time.Second)
	const later = 100
	for i := range later {
		ix.ReserveSubCutoff(fmt.Sprint("later-", i))
	}
	if got := floors(); got != later {
		t.Fatalf("%d floors after the clock passed the first %d and %d new reservations, want %d", got, n, later, later)
	}
	clk.Advance(2 * time.Second)
	ix.Sweep()
	if got := floors(); got != 0 {
		t.Fatalf("%d floors after Sweep, want 0", got)
	}
}

// TestReserveSubCutoffAhead: the cutoff is the second of now + ahead,
// still raised to the floor and above the committed cutoff; later tokens of
// this node get iat > cutoff. A negative ahead counts as zero.
func TestReserveSubCutoffAhead(t *testing.T) {
	const base = 1_700_000_000_600 // 0.6 s into a second
	tests := []struct {
		name       string
		ahead      []time.Duration // successive reservations
		wantCutoff []int64         // relative to base's second
	}{
		{"no skew", []time.Duration{0}, []int64{0}},
		{"1.5 s crosses two seconds", []time.Duration{1500 * time.Millisecond}, []int64{2}},
		{"2 s", []time.Duration{2 * time.Second}, []int64{2}},
		{"negative is zero", []time.Duration{-5 * time.Second}, []int64{0}},
		{"second reservation climbs above the first", []time.Duration{2 * time.Second, 2 * time.Second}, []int64{2, 3}},
		{"skewed then unskewed stays above", []time.Duration{2 * time.Second, 0}, []int64{2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.UnixMilli(base)
			ix := New(Options{Now: func() time.Time { return now }})
			sec := int64(base / 1000)
			var last int64
			for i, ahead := range tc.ahead {
				last = ix.ReserveSubCutoffAhead("sub", ahead)
				if last != sec+tc.wantCutoff[i] {
					t.Fatalf("reservation %d: cutoff %+d, want %+d", i, last-sec, tc.wantCutoff[i])
				}
			}
			ix.RevokeSub("sub", last, base+3_600_000)
			if iat := ix.IssueIat("sub"); iat != last+1 {
				t.Fatalf("iat after the revocation %+d, want %+d", iat-sec, last+1-sec)
			}
		})
	}
}
