package index

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestBlockedFPRModel(t *testing.T) {
	for _, p := range []float64{0.1, 0.01, 0.001} {
		b := bitsPerKeyFor(p)
		if got := blockedFPR(b); got > p {
			t.Errorf("bitsPerKeyFor(%g) = %g with modelled FPR %g", p, b, got)
		}
		if b > 1.5*textbookBitsPerKey(p) {
			t.Errorf("bitsPerKeyFor(%g) = %g, far above textbook %g", p, b, textbookBitsPerKey(p))
		}
	}
}

// textbookBitsPerKey is -ln(p)/ln(2)^2, the unblocked Bloom filter optimum.
func textbookBitsPerKey(p float64) float64 {
	const ln2sq = 0.4804530139182014
	return -math.Log(p) / ln2sq
}

// TestBloomFilterMeasuredFPR fills a filter to capacity and checks that it
// has no false negatives and a measured false-positive rate close to the
// target (the bound is loose: this is a statistical test with a fixed seed).
func TestBloomFilterMeasuredFPR(t *testing.T) {
	const n, probes, target = 50_000, 200_000, 0.01
	f := newBloomFilter(n, bitsPerKeyFor(target))
	r := rand.New(rand.NewPCG(3, 4))
	keys := make([]uint64, n)
	for i := range keys {
		keys[i] = r.Uint64()
		f.add(keys[i])
	}
	for _, h := range keys {
		if !f.mayContain(h) {
			t.Fatalf("false negative for %#x", h)
		}
	}
	fp := 0
	for range probes {
		if f.mayContain(r.Uint64()) {
			fp++
		}
	}
	if rate := float64(fp) / probes; rate > 1.5*target {
		t.Fatalf("measured FPR %.4f > 1.5 x target %.4f", rate, target)
	}
}

func TestBloomFilterAligned(t *testing.T) {
	for _, n := range []int{1, 7, 100, 12345} {
		f := newBloomFilter(n, 10)
		if addrMod64(&f.words[0]) != 0 || len(f.words) != int(f.nBlocks)*blockWords {
			t.Fatalf("capacity %d: misaligned or wrong size", n)
		}
	}
}

// measureFPR checks probes random, never-revoked UUIDs (no sub, no kid) and
// returns the share the Bloom filters let through, from the index's own
// false-positive counter.
func measureFPR(t *testing.T, ix *Index, r *rand.Rand, probes int) float64 {
	t.Helper()
	before := ix.Stats().BloomFalsePositives
	for range probes {
		if got := ix.Check(randUUID(r), "", "", 0); got != None {
			t.Fatalf("random uuid reported %v", got)
		}
	}
	return float64(ix.Stats().BloomFalsePositives-before) / float64(probes)
}

// TestChurnRebuildBoundsFalsePositives revokes and expires many generations
// of jtis. Without rebuilds the filters would fill with stale bits and pass
// nearly every probe; with them the false-positive rate stays near target.
func TestChurnRebuildBoundsFalsePositives(t *testing.T) {
	const (
		expected = 8192
		target   = 0.01
		rounds   = 12
		probes   = 40_000
	)
	clk := newFakeClock(t0)
	ix := New(Options{Shards: 8, ExpectedEntries: expected, FalsePositiveRate: target, Now: clk.Now})
	r := rand.New(rand.NewPCG(5, 6))
	for round := range rounds {
		for range expected {
			ix.RevokeJTI(randUUID(r), clk.Ms()+1000)
		}
		clk.Advance(time.Second)
		if n := ix.Sweep(); n != expected {
			t.Fatalf("round %d: swept %d, want %d", round, n, expected)
		}
		st := ix.Stats()
		if st.BloomKeys > st.BloomCapacity {
			t.Fatalf("round %d: %d keys in filters sized for %d", round, st.BloomKeys, st.BloomCapacity)
		}
	}
	st := ix.Stats()
	if st.Entries != 0 {
		t.Fatalf("entries left: %+v", st)
	}
	if st.BloomRebuilds < rounds {
		t.Fatalf("only %d rebuilds in %d churn rounds", st.BloomRebuilds, rounds)
	}
	// Half-full filter (live keys, nothing stale) then measure.
	for range expected / 2 {
		ix.RevokeJTI(randUUID(r), clk.Ms()+1000)
	}
	if rate := measureFPR(t, ix, r, probes); rate > 1.5*target {
		t.Fatalf("FPR after churn %.4f > 1.5 x target %g; stats %+v", rate, target, ix.Stats())
	}
	// Expire those too: the sweep rebuilds and the rate drops near zero.
	clk.Advance(time.Second)
	ix.Sweep()
	if st := ix.Stats(); st.BloomKeys != 0 {
		t.Fatalf("stale keys not cleared by rebuild: %+v", st)
	}
	if rate := measureFPR(t, ix, r, probes); rate > target/10 {
		t.Fatalf("FPR of emptied index %.4f", rate)
	}
}

// TestBloomGrowsPastExpectedEntries loads 10x ExpectedEntries: the writers'
// growth rebuilds keep every filter within capacity and the rate bounded.
func TestBloomGrowsPastExpectedEntries(t *testing.T) {
	const expected, target = 2000, 0.01
	clk := newFakeClock(t0)
	ix := New(Options{Shards: 4, ExpectedEntries: expected, Now: clk.Now})
	r := rand.New(rand.NewPCG(7, 8))
	for range 10 * expected {
		ix.RevokeJTI(randUUID(r), t0+hour)
	}
	st := ix.Stats()
	if st.BloomRebuilds == 0 || st.BloomKeys > st.BloomCapacity || st.BloomCapacity < 10*expected {
		t.Fatalf("no growth: %+v", st)
	}
	if rate := measureFPR(t, ix, r, 40_000); rate > 1.5*target {
		t.Fatalf("FPR after growth %.4f; stats %+v", rate, ix.Stats())
	}
}

// TestBloomFPRStructuredKeys checks the hash mix on non-random keys:
// time-ordered UUIDs that differ in a few low digits, and numbered session
// ids, revoked and probed from disjoint ranges.
func TestBloomFPRStructuredKeys(t *testing.T) {
	const n, probes, target = 20_000, 40_000, 0.01
	ix := New(Options{Shards: 16, ExpectedEntries: 2 * n, Now: newFakeClock(t0).Now})
	const hi = 0x0190_1234_5678_7abc
	for i := range n {
		ix.RevokeJTI(uuidFrom(hi, 0x8000_0000_0000_0000|uint64(i)), t0+hour)
		ix.RevokeJTI(fmt.Sprintf("session-%d", i), t0+hour)
	}
	before := ix.Stats().BloomFalsePositives
	for i := range probes {
		if ix.Check(uuidFrom(hi, 0x8000_0000_0000_0000|uint64(n+i)), "", "", 0) != None ||
			ix.Check(fmt.Sprintf("session-%d", n+i), "", "", 0) != None {
			t.Fatal("unrevoked jti reported")
		}
	}
	fp := ix.Stats().BloomFalsePositives - before
	if rate := float64(fp) / (2 * probes); rate > 1.5*target {
		t.Fatalf("FPR on structured keys %.4f > 1.5 x target %g", rate, target)
	}
}
