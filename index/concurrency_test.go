package index

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestConcurrentReadersWritersSweep runs writers, readers, a sweeper and a
// stats reader at once (meant for -race). The filters are sized small so
// that writers force Bloom growth rebuilds while readers probe. Entries
// revoked before the readers start never expire, and must be reported on
// every read: a rebuild must never lose a key. All loops are bounded by
// iteration counts, not by time.
func TestConcurrentReadersWritersSweep(t *testing.T) {
	clk := newFakeClock(t0)
	ix := New(Options{Shards: 8, ExpectedEntries: 256, Now: clk.Now})

	const pinned = 200
	pinnedJTI := make([]string, pinned)
	for i := range pinnedJTI {
		pinnedJTI[i] = uuidFrom(0xfeed, uint64(i))
		ix.RevokeJTI(pinnedJTI[i], math.MaxInt64)
		ix.RevokeSub(fmt.Sprint("pinned-sub-", i), 1000, math.MaxInt64)
		ix.RevokeKid(fmt.Sprint("pinned-kid-", i), math.MaxInt64)
	}

	writes, reads := 3000, 3000
	if testing.Short() {
		writes, reads = 500, 500
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 2 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range writes {
				exp := clk.Ms() + int64(r.IntN(3000))
				switch i % 4 {
				case 0, 1:
					ix.RevokeJTI(randUUID(r), exp)
				case 2:
					ix.RevokeSub(fmt.Sprint("sub-", r.IntN(500)), int64(r.IntN(2000)), exp)
				case 3:
					ix.RevokeKid(fmt.Sprint("kid-", w, "-", i), exp)
				}
				if i%97 == 0 {
					ix.Remove(JTI, randUUID(r))
					ix.Remove(Kid, fmt.Sprint("kid-", w, "-", i-3))
				}
			}
		})
	}
	for rd := range 2 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(rd), 2))
			buf := make([]byte, 0, 64)
			for i := range reads {
				p := r.IntN(pinned)
				if got := ix.Check(pinnedJTI[p], "", "", 0); got != JTI {
					errs <- fmt.Errorf("pinned jti %d: %v", p, got)
					return
				}
				buf = append(buf[:0], fmt.Sprint("pinned-sub-", p)...)
				if got := ix.CheckBytes(nil, buf, nil, 999); got != Sub {
					errs <- fmt.Errorf("pinned sub %d: %v", p, got)
					return
				}
				if got := ix.Check(randUUID(r), "nobody", fmt.Sprint("pinned-kid-", p), 0); got != Kid {
					errs <- fmt.Errorf("pinned kid %d: %v", p, got)
					return
				}
				ix.Check(randUUID(r), fmt.Sprint("sub-", i%500), fmt.Sprint("kid-", i), int64(i))
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			clk.Advance(50 * time.Millisecond)
			ix.Sweep()
			_ = ix.Stats()
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	clk.Advance(time.Hour)
	ix.Sweep()
	st := ix.Stats()
	if st.JTI != pinned || st.Sub != pinned || st.Kid != pinned {
		t.Fatalf("after final sweep: %+v, want %d of each kind", st, pinned)
	}
	if st.BloomRebuilds == 0 {
		t.Fatalf("expected Bloom rebuilds under load, stats %+v", st)
	}
	for _, j := range pinnedJTI {
		if ix.Check(j, "", "", 0) != JTI {
			t.Fatalf("pinned %s lost", j)
		}
	}
}
