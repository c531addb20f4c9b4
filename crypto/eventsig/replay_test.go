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
		if got := g.Seen(s.id); got != s.want {
			t.Fatalf("step %d (%s after +%v): Seen = %v, want %v", i, s.id, s.advance, got, s.want)
		}
	}
}

func TestReplayGuardDefaultsAndClockSkew(t *testing.T) {
	g := NewReplayGuard(0, nil)
	if g.ttl != DefaultReplayTTL {
		t.Fatalf("ttl = %v", g.ttl)
	}
	if g.Seen("x") || !g.Seen("x") {
		t.Fatal("default guard")
	}
	clk := &fakeClock{t: time.Unix(1000, 0)}
	g = NewReplayGuard(time.Minute, clk.now)
	g.Seen("x")
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
		if g.Seen(fmt.Sprint("id-", i)) {
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

func TestReplayGuardConcurrent(t *testing.T) {
	g := NewReplayGuard(time.Minute, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh := 0
	for range 8 {
		wg.Go(func() {
			for i := range 500 {
				if !g.Seen(fmt.Sprint(i)) {
					mu.Lock()
					fresh++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if fresh != 500 {
		t.Fatalf("%d ids reported fresh, want 500", fresh)
	}
}
