package harness

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/revocd/revocd/index"
)

// indexMemory measures, in this process, the Go heap a revocation index
// of Profile.IndexEntries UUID jtis holds (HeapAlloc after a GC, minus
// the same before), and checks a sample of them.
func (r *runner) indexMemory(ctx context.Context) error {
	n := r.prof.IndexEntries
	r.progress.phase(fmt.Sprintf("in-process index with %s jtis", humanCount(n)), 0, nil)
	defer r.progress.done()
	before := heapAfterGC()
	ix := index.New(index.Options{ExpectedEntries: n})
	exp := time.Now().Add(24 * time.Hour).UnixMilli()
	t0 := time.Now()
	for i := range n {
		if i%1_000_000 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		ix.RevokeJTI(PreloadJTI(i), exp)
	}
	took := time.Since(t0)
	after := heapAfterGC()
	for i := 0; i < n; i += max(n/1000, 1) {
		if ix.Check(PreloadJTI(i), "", "", 0) != index.JTI {
			return fmt.Errorf("index memory: entry %d not found", i)
		}
	}
	if ix.Check("00000000-0000-4000-8000-000000000000", "nobody", "nokid", 0) != index.None {
		return fmt.Errorf("index memory: a never-revoked jti is reported revoked")
	}
	runtime.KeepAlive(ix)
	r.progress.done()
	r.addMeasure(Measure{Name: "index heap per entry", Value: float64(after-before) / float64(n), Unit: "B",
		Note: fmt.Sprintf("%s UUID jtis in-process, Go heap delta after GC; inserted in %v", humanCount(n), took.Round(time.Millisecond))})
	return nil
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
