package index

import (
	"math"
	"strings"
	"testing"
	"time"
)

const (
	t0     = int64(1_700_000_000_000) // fake "now" at test start, Unix ms (whole second)
	hour   = int64(time.Hour / time.Millisecond)
	uuidA  = "123e4567-e89b-12d3-a456-426614174000"
	uuidB  = "9f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b"
	iatNow = t0 / 1000
)

// probe is one Check call and its expected result.
type probe struct {
	jti, sub, kid string
	iat           int64
	want          Kind
}

func TestSemantics(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(ix *Index, c *fakeClock)
		advance time.Duration // clock moves after setup, before probes
		probes  []probe
	}{
		{
			name:   "empty index reports none",
			setup:  func(*Index, *fakeClock) {},
			probes: []probe{{uuidA, "alice", "k1", iatNow, None}, {"", "", "", 0, None}},
		},
		{
			name:  "jti uuid",
			setup: func(ix *Index, _ *fakeClock) { ix.RevokeJTI(uuidA, t0+hour) },
			probes: []probe{
				{uuidA, "", "", 0, JTI},
				{uuidA, "alice", "k1", iatNow, JTI},
				{uuidB, "alice", "k1", iatNow, None},
				{"", "alice", "k1", iatNow, None},
			},
		},
		{
			name:  "upper-case uuid revoked matches every spelling",
			setup: func(ix *Index, _ *fakeClock) { ix.RevokeJTI(strings.ToUpper(uuidA), t0+hour) },
			probes: []probe{
				{uuidA, "", "", 0, JTI},
				{strings.ToUpper(uuidA), "", "", 0, JTI},
				{"123e4567-E89B-12d3-a456-426614174000", "", "", 0, JTI},
				{uuidB, "", "", 0, None},
			},
		},
		{
			name:  "lower-case uuid revoked matches upper-case token jti",
			setup: func(ix *Index, _ *fakeClock) { ix.RevokeJTI(uuidA, t0+hour) },
			probes: []probe{
				{strings.ToUpper(uuidA), "", "", 0, JTI},
			},
		},
		{
			name: "non-uuid jti is matched exactly",
			setup: func(ix *Index, _ *fakeClock) {
				ix.RevokeJTI("Token-1", t0+hour)
				ix.RevokeJTI("123e4567e89b12d3a456426614174000", t0+hour) // no dashes: not canonical
				ix.RevokeJTI("123e4567-e89b-12d3-a456-42661417400g", t0+hour)
			},
			probes: []probe{
				{"Token-1", "", "", 0, JTI},
				{"token-1", "", "", 0, None},
				{"Token-1 ", "", "", 0, None},
				{"123e4567e89b12d3a456426614174000", "", "", 0, JTI},
				{"123E4567E89B12D3A456426614174000", "", "", 0, None},
				{uuidA, "", "", 0, None}, // the canonical form is a different jti
				{"123e4567-e89b-12d3-a456-42661417400g", "", "", 0, JTI},
			},
		},
		{
			name:  "sub cutoff",
			setup: func(ix *Index, _ *fakeClock) { ix.RevokeSub("alice", 1000, t0+hour) },
			probes: []probe{
				{"", "alice", "", 999, Sub},
				{"", "alice", "", 1000, Sub}, // iat == cutoff is revoked
				{"", "alice", "", 1001, None},
				{"", "alice", "", math.MinInt64, Sub},
				{"", "bob", "", 999, None},
				{"", "Alice", "", 999, None},
			},
		},
		{
			name:  "sub cutoff MaxInt64 revokes every token",
			setup: func(ix *Index, _ *fakeClock) { ix.RevokeSub("alice", math.MaxInt64, t0+hour) },
			probes: []probe{
				{"", "alice", "", 0, Sub},
				{"", "alice", "", iatNow + 1_000_000, Sub},
				{"", "alice", "", math.MaxInt64, Sub},
			},
		},
		{
			name:  "kid",
			setup: func(ix *Index, _ *fakeClock) { ix.RevokeKid("k1", t0+hour) },
			probes: []probe{
				{uuidA, "alice", "k1", iatNow, Kid},
				{"", "", "k1", 0, Kid},
				{"", "", "k2", 0, None},
			},
		},
		{
			name: "same value in another kind does not match",
			setup: func(ix *Index, _ *fakeClock) {
				ix.RevokeSub("x", math.MaxInt64, t0+hour)
				ix.RevokeJTI(uuidA, t0+hour)
			},
			probes: []probe{
				{"x", "", "x", 0, None},
				{"", uuidA, uuidA, 0, None},
			},
		},
		{
			name: "order jti, sub, kid",
			setup: func(ix *Index, _ *fakeClock) {
				ix.RevokeJTI(uuidA, t0+hour)
				ix.RevokeSub("alice", math.MaxInt64, t0+hour)
				ix.RevokeSub("carol", 10, t0+hour)
				ix.RevokeKid("k1", t0+hour)
			},
			probes: []probe{
				{uuidA, "alice", "k1", iatNow, JTI},
				{uuidB, "alice", "k1", iatNow, Sub},
				{uuidB, "bob", "k1", iatNow, Kid},
				{uuidB, "carol", "k1", 11, Kid}, // sub entry present but iat after cutoff
				{uuidB, "carol", "k2", 10, Sub},
				{uuidB, "bob", "k2", iatNow, None},
			},
		},
		{
			name: "expired jti falls through to later kinds",
			setup: func(ix *Index, _ *fakeClock) {
				ix.RevokeJTI(uuidA, t0+1000)
				ix.RevokeSub("alice", math.MaxInt64, t0+hour)
			},
			advance: 2 * time.Second,
			probes: []probe{
				{uuidA, "alice", "", 0, Sub},
				{uuidA, "bob", "", 0, None},
			},
		},
		{
			name: "expiry is exclusive: reported before, forgotten at",
			setup: func(ix *Index, _ *fakeClock) {
				ix.RevokeJTI(uuidA, t0+5000)
				ix.RevokeSub("alice", math.MaxInt64, t0+5000)
				ix.RevokeKid("k1", t0+5000)
				ix.RevokeJTI(uuidB, t0+5001)
			},
			advance: 4999 * time.Millisecond,
			probes: []probe{
				{uuidA, "", "", 0, JTI},
				{"", "alice", "", 0, Sub},
				{"", "", "k1", 0, Kid},
			},
		},
		{
			name: "expired entries are not reported before Sweep",
			setup: func(ix *Index, _ *fakeClock) {
				ix.RevokeJTI(uuidA, t0+5000)
				ix.RevokeJTI("plain", t0+5000)
				ix.RevokeSub("alice", math.MaxInt64, t0+5000)
				ix.RevokeKid("k1", t0+5000)
			},
			advance: 5 * time.Second,
			probes: []probe{
				{uuidA, "", "", 0, None},
				{"plain", "", "", 0, None},
				{"", "alice", "", 0, None},
				{"", "", "k1", 0, None},
			},
		},
		{
			name: "sub-second expiry rounds up to the next second (fail closed)",
			setup: func(ix *Index, _ *fakeClock) {
				ix.RevokeJTI(uuidA, t0+1500)
			},
			advance: 1999 * time.Millisecond,
			probes:  []probe{{uuidA, "", "", 0, JTI}},
		},
		{
			name: "revocation that is already expired is ignored",
			setup: func(ix *Index, _ *fakeClock) {
				ix.RevokeJTI(uuidA, t0)
				ix.RevokeSub("alice", math.MaxInt64, t0-1)
				ix.RevokeKid("k1", 0)
			},
			probes: []probe{{uuidA, "alice", "k1", 0, None}},
		},
		{
			name: "idempotent",
			setup: func(ix *Index, _ *fakeClock) {
				for range 3 {
					ix.RevokeJTI(uuidA, t0+hour)
					ix.RevokeSub("alice", 100, t0+hour)
					ix.RevokeKid("k1", t0+hour)
				}
			},
			probes: []probe{
				{uuidA, "", "", 0, JTI},
				{"", "alice", "", 100, Sub},
				{"", "alice", "", 101, None},
				{"", "", "k1", 0, Kid},
			},
		},
		{
			name: "later expiry wins in either order",
			setup: func(ix *Index, _ *fakeClock) {
				ix.RevokeJTI(uuidA, t0+10_000)
				ix.RevokeJTI(uuidA, t0+5_000)
				ix.RevokeJTI(strings.ToUpper(uuidB), t0+5_000)
				ix.RevokeJTI(uuidB, t0+10_000)
				ix.RevokeSub("alice", 1, t0+10_000)
				ix.RevokeSub("alice", 1, t0+5_000)
				ix.RevokeKid("k1", t0+5_000)
				ix.RevokeKid("k1", t0+10_000)
			},
			advance: 7 * time.Second,
			probes: []probe{
				{uuidA, "", "", 0, JTI},
				{uuidB, "", "", 0, JTI},
				{"", "alice", "", 1, Sub},
				{"", "", "k1", 0, Kid},
			},
		},
		{
			name: "larger cutoff wins in either order",
			setup: func(ix *Index, _ *fakeClock) {
				ix.RevokeSub("alice", 100, t0+hour)
				ix.RevokeSub("alice", 50, t0+hour)
				ix.RevokeSub("bob", 50, t0+hour)
				ix.RevokeSub("bob", 100, t0+hour)
				ix.RevokeSub("carol", 50, t0+hour)
				ix.RevokeSub("carol", math.MaxInt64, t0+hour)
			},
			probes: []probe{
				{"", "alice", "", 80, Sub},
				{"", "alice", "", 101, None},
				{"", "bob", "", 80, Sub},
				{"", "bob", "", 101, None},
				{"", "carol", "", iatNow, Sub},
			},
		},
		{
			name: "empty values are never revoked",
			setup: func(ix *Index, _ *fakeClock) {
				ix.RevokeJTI("", t0+hour)
				ix.RevokeSub("", math.MaxInt64, t0+hour)
				ix.RevokeKid("", t0+hour)
			},
			probes: []probe{{"", "", "", 0, None}},
		},
		{
			name: "remove",
			setup: func(ix *Index, _ *fakeClock) {
				ix.RevokeJTI(uuidA, t0+hour)
				ix.RevokeJTI("plain", t0+hour)
				ix.RevokeSub("alice", math.MaxInt64, t0+hour)
				ix.RevokeKid("k1", t0+hour)
				ix.RevokeKid("k2", t0+hour)
				ix.Remove(JTI, strings.ToUpper(uuidA)) // any spelling
				ix.Remove(JTI, "plain")
				ix.Remove(Sub, "alice")
				ix.Remove(Kid, "k1")
				ix.Remove(Kid, "absent")
				ix.Remove(None, "k2")
			},
			probes: []probe{
				{uuidA, "alice", "k1", 0, None},
				{"plain", "", "", 0, None},
				{"", "", "k2", 0, Kid},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, shards := range []int{1, 64} {
				clk := newFakeClock(t0)
				ix := New(Options{Shards: shards, Now: clk.Now})
				tc.setup(ix, clk)
				clk.Advance(tc.advance)
				for _, p := range tc.probes {
					if got := ix.Check(p.jti, p.sub, p.kid, p.iat); got != p.want {
						t.Errorf("shards=%d Check(%q, %q, %q, %d) = %v, want %v", shards, p.jti, p.sub, p.kid, p.iat, got, p.want)
					}
					if got := ix.CheckBytes([]byte(p.jti), []byte(p.sub), []byte(p.kid), p.iat); got != p.want {
						t.Errorf("shards=%d CheckBytes(%q, %q, %q, %d) = %v, want %v", shards, p.jti, p.sub, p.kid, p.iat, got, p.want)
					}
				}
			}
		})
	}
}

func TestExpiryBoundary(t *testing.T) {
	clk := newFakeClock(t0)
	ix := New(Options{Now: clk.Now})
	ix.RevokeJTI(uuidA, t0+5000)
	ix.RevokeJTI(uuidB, t0+1500) // rounds up to t0+2000
	clk.Advance(4999 * time.Millisecond)
	if got := ix.Check(uuidA, "", "", 0); got != JTI {
		t.Fatalf("at exp-1ms: %v, want jti", got)
	}
	clk.Advance(time.Millisecond)
	if got := ix.Check(uuidA, "", "", 0); got != None {
		t.Fatalf("at exp: %v, want none", got)
	}
	if got := ix.Check(uuidB, "", "", 0); got != None {
		t.Fatalf("rounded expiry well past: %v, want none", got)
	}
}

func TestSweep(t *testing.T) {
	clk := newFakeClock(t0)
	ix := New(Options{Shards: 4, Now: clk.Now})
	ix.RevokeJTI(uuidA, t0+1000)
	ix.RevokeJTI("short", t0+1000)
	ix.RevokeSub("alice", 5, t0+1000)
	ix.RevokeKid("k1", t0+1000)
	ix.RevokeJTI(uuidB, t0+hour)
	ix.RevokeSub("bob", 5, t0+hour)
	ix.RevokeKid("k2", t0+hour)

	if n := ix.Sweep(); n != 0 {
		t.Fatalf("Sweep before expiry removed %d", n)
	}
	clk.Advance(time.Second) // exactly at expiry: swept
	if n := ix.Sweep(); n != 4 {
		t.Fatalf("Sweep removed %d, want 4", n)
	}
	st := ix.Stats()
	want := Stats{JTI: 1, JTIUUID: 1, Sub: 1, Kid: 1, Entries: 3}
	if st.JTI != want.JTI || st.JTIUUID != want.JTIUUID || st.JTIString != 0 || st.Sub != want.Sub || st.Kid != want.Kid || st.Entries != want.Entries {
		t.Fatalf("Stats after sweep = %+v", st)
	}
	if got := ix.Check(uuidB, "", "", 0); got != JTI {
		t.Fatalf("surviving jti: %v", got)
	}
	if n := ix.Sweep(); n != 0 {
		t.Fatalf("second Sweep removed %d", n)
	}
}

func TestStatsCounts(t *testing.T) {
	clk := newFakeClock(t0)
	ix := New(Options{Shards: 3, Now: clk.Now}) // rounds up to 4
	ix.RevokeJTI(uuidA, t0+hour)
	ix.RevokeJTI(strings.ToUpper(uuidA), t0+hour) // same entry
	ix.RevokeJTI("plain", t0+hour)
	ix.RevokeSub("alice", 1, t0+hour)
	ix.RevokeKid("k1", t0+hour)
	st := ix.Stats()
	if st.Shards != 4 || st.JTI != 2 || st.JTIUUID != 1 || st.JTIString != 1 || st.Sub != 1 || st.Kid != 1 || st.Entries != 4 {
		t.Fatalf("Stats = %+v", st)
	}
	if st.BloomKeys != 4 || st.BloomBits == 0 || st.BloomCapacity < DefaultExpectedEntries {
		t.Fatalf("Bloom stats = %+v", st)
	}
}

func TestOptionsDefaults(t *testing.T) {
	ix := New(Options{})
	if st := ix.Stats(); st.Shards != DefaultShards || st.BloomCapacity < DefaultExpectedEntries {
		t.Fatalf("defaults: %+v", st)
	}
	for _, n := range []int{1, 2, 5, 64, 100, 1 << 20} {
		got := New(Options{Shards: n, ExpectedEntries: 100}).Stats().Shards
		if got&(got-1) != 0 || got < min(n, maxShards) || got > maxShards {
			t.Fatalf("Shards %d -> %d", n, got)
		}
	}
	// Uses time.Now by default: an entry expiring in an hour is live.
	ix.RevokeJTI(uuidA, time.Now().Add(time.Hour).UnixMilli())
	if ix.Check(uuidA, "", "", 0) != JTI {
		t.Fatal("default clock")
	}
}

func TestReady(t *testing.T) {
	ix := New(Options{})
	if ix.Ready() {
		t.Fatal("new index is ready")
	}
	ix.SetReady()
	if !ix.Ready() {
		t.Fatal("not ready after SetReady")
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{None: "none", JTI: "jti", Sub: "sub", Kid: "kid", Kind(9): "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

// TestRevokeDoesNotRetainCallerMemory checks that string keys are copied:
// mutating the caller's buffer after RevokeJTI must not change the entry.
func TestRevokeDoesNotRetainCallerMemory(t *testing.T) {
	ix := New(Options{Shards: 1})
	buf := []byte("mutable-jti")
	ix.RevokeJTI(bytesView(buf), math.MaxInt64)
	ix.RevokeKid(bytesView(buf), math.MaxInt64)
	ix.RevokeSub(bytesView(buf), math.MaxInt64, math.MaxInt64)
	copy(buf, "XXXXXXX")
	if got := ix.Check("mutable-jti", "", "", 0); got != JTI {
		t.Fatalf("jti after caller mutation: %v", got)
	}
	if got := ix.Check("", "mutable-jti", "mutable-jti", 0); got != Sub {
		t.Fatalf("sub after caller mutation: %v", got)
	}
	if got := ix.Check("", "", "mutable-jti", 0); got != Kid {
		t.Fatalf("kid after caller mutation: %v", got)
	}
}
