package eventsig

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// seenOrRecord is the receive path with an always successful commit:
// check, then record a fresh id.
func seenOrRecord(g *ReplayGuard, id string) bool {
	if g.Seen(id) {
		return true
	}
	g.Record(id)
	return false
}

func TestReplayGuard(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	g := NewReplayGuard(180*time.Second, clk.now)
	steps := []struct {
		advance time.Duration
		id      string
		want    bool
	}{
		{0, "a", false},
		{0, "a", true},
		{0, "b", false},
		{179 * time.Second, "a", true}, // 179 s after first sighting
		{time.Second, "a", false},      // 180 s: expired, recorded again
		{0, "a", true},
		{100 * time.Second, "b", false},  // t=280: b first seen 280 s ago
		{70 * time.Second, "a", true},    // t=350: a recorded at t=180
		{10 * time.Second, "a", false},   // t=360: 180 s later
		{0, "b", true},                   // b recorded at t=280
		{1000 * time.Second, "a", false}, // long gap drops everything
		{0, "a", true},
	}
	for i, s := range steps {
		clk.advance(s.advance)
		if got := seenOrRecord(g, s.id); got != s.want {
			t.Fatalf("step %d (%s after +%v): Seen = %v, want %v", i, s.id, s.advance, got, s.want)
		}
	}
}

// TestReplayGuardSeenDoesNotRecord: an id is a replay only once Record
// was called for it (after its commit); asking, however often, records
// nothing, and recording again does not extend the window.
func TestReplayGuardSeenDoesNotRecord(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	g := NewReplayGuard(time.Minute, clk.now)
	steps := []struct {
		advance time.Duration
		record  bool // Record the id before asking
		want    bool
	}{
		{0, false, false},               // delivered, commit failed
		{0, false, false},               // redelivered: not a replay
		{time.Second, true, true},       // committed at t=1s
		{30 * time.Second, true, true},  // recorded again at t=31s: window unchanged
		{29 * time.Second, false, true}, // t=60s: 59 s after the first Record
		{time.Second, false, false},     // t=61s: expired
		{0, false, false},               // still nothing recorded by asking
	}
	for i, s := range steps {
		clk.advance(s.advance)
		if s.record {
			g.Record("ev")
		}
		if got := g.Seen("ev"); got != s.want {
			t.Fatalf("step %d: Seen = %v, want %v", i, got, s.want)
		}
	}
	if n := g.Len(); n > 1 {
		t.Fatalf("guard holds %d ids, want at most 1", n)
	}
}

func TestReplayGuardDefaultsAndClockSkew(t *testing.T) {
	g := NewReplayGuard(0, nil)
	if g.ttl != DefaultReplayTTL {
		t.Fatalf("ttl = %v", g.ttl)
	}
	if seenOrRecord(g, "x") || !seenOrRecord(g, "x") {
		t.Fatal("default guard")
	}
	clk := &fakeClock{t: time.Unix(1000, 0)}
	g = NewReplayGuard(time.Minute, clk.now)
	g.Record("x")
	clk.advance(-time.Hour) // clock stepped back: forgetting is harmless
	if g.Seen("x") {
		t.Fatal("entry survived a backwards clock step")
	}
}

func TestReplayGuardBounded(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	g := NewReplayGuard(time.Hour, clk.now)
	g.max = 100
	for i := range 1000 {
		if seenOrRecord(g, fmt.Sprint("id-", i)) {
			t.Fatalf("id %d reported seen", i)
		}
		if g.Len() > 100 {
			t.Fatalf("guard holds %d ids, bound 100", g.Len())
		}
	}
	if !g.Seen("id-999") {
		t.Fatal("recent id forgotten")
	}
}

// TestReplayGuardConcurrent: concurrent receivers of the same ids. Between
// one receiver's Seen and its Record another may see the id as fresh too
// (both commit; the audit log ignores the duplicate), but once recorded an
// id is a replay for everyone and is remembered once.
func TestReplayGuardConcurrent(t *testing.T) {
	g := NewReplayGuard(time.Minute, nil)
	const ids, workers = 500, 8
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range ids {
				seenOrRecord(g, fmt.Sprint(i))
			}
		})
	}
	wg.Wait()
	for i := range ids {
		if !g.Seen(fmt.Sprint(i)) {
			t.Fatalf("id %d recorded by %d workers is not seen", i, workers)
		}
	}
	if n := g.Len(); n != ids {
		t.Fatalf("guard holds %d ids, want %d", n, ids)
	}
}
