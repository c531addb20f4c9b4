package index

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// mem10M enables the 10M-entry memory benchmark, which needs ~1 GiB of heap
// and about a minute: go test -run XXX -bench MemoryPerEntry -index.mem10m ./index/
var mem10M = flag.Bool("index.mem10m", false, "also run BenchmarkMemoryPerEntry at 10M entries")

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// bytesPerEntry builds an index of n revoked jtis (UUIDs, or non-UUID
// strings of the same length when uuids is false) sized with
// ExpectedEntries = n, and returns its heap cost per entry, Bloom filters
// and shards included.
func bytesPerEntry(n int, uuids bool) float64 {
	r := rand.New(rand.NewPCG(21, 22))
	before := heapInUse()
	ix := New(Options{ExpectedEntries: n})
	for i := range n {
		jti := randUUID(r)
		if !uuids {
			jti = fmt.Sprintf("tok_%032x", i)
		}
		ix.RevokeJTI(jti, math.MaxInt64)
	}
	after := heapInUse()
	runtime.KeepAlive(ix)
	return float64(int64(after)-int64(before)) / float64(n)
}

// TestMemoryPerEntry guards the memory budget (100 bytes per revoked UUID
// jti) at a size that keeps the normal test run short.
func TestMemoryPerEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 256k entries")
	}
	const n, budget = 1 << 18, 100
	if got := bytesPerEntry(n, true); got > budget {
		t.Fatalf("%.1f bytes per UUID jti entry at %d entries, budget %d", got, n, budget)
	}
}

// BenchmarkMemoryPerEntry reports "bytes/entry" of heap for revoked jtis at
// 1M entries (UUID and non-UUID), and for UUIDs at 10M with -index.mem10m. Each
// iteration builds a fresh index; ns/op is the build time.
func BenchmarkMemoryPerEntry(b *testing.B) {
	sizes := []int{1_000_000}
	if *mem10M {
		sizes = append(sizes, 10_000_000)
	}
	for _, n := range sizes {
		for _, uuids := range []bool{true, false} {
			if n > 1_000_000 && !uuids {
				continue // the 10M run measures the UUID budget only
			}
			kind := map[bool]string{true: "uuid", false: "string"}[uuids]
			b.Run(fmt.Sprintf("%s/%dM", kind, n/1_000_000), func(b *testing.B) {
				var sum float64
				for i := 0; i < b.N; i++ {
					sum += bytesPerEntry(n, uuids)
				}
				b.ReportMetric(sum/float64(b.N), "bytes/entry")
			})
		}
	}
}
