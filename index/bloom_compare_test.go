package index

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/bits-and-blooms/bloom/v3"
)

// BenchmarkBloomCompare backs the choice of an own blocked filter over
// github.com/bits-and-blooms/bloom/v3 (see bloom.go): both hold 1M keys at
// a 1% target and answer probes for absent 36-byte keys (UUID strings),
// serially and from all cores. The bloom/v3 filter is not safe for
// concurrent reads and writes, so in the index it would sit behind a lock;
// "bloomv3-rlock" includes that RLock, "bloomv3-nolock" shows the bare
// probe. "own" includes hashing the key as the index does.
func BenchmarkBloomCompare(b *testing.B) {
	const n = 1 << 20
	r := rand.New(rand.NewPCG(31, 32))
	seedIx := New(Options{Shards: 1, ExpectedEntries: 16})
	own := newBloomFilter(n, bitsPerKeyFor(0.01))
	other := bloom.NewWithEstimates(n, 0.01)
	for range n {
		k := randUUID(r)
		own.add(seedIx.hashJTI(k))
		other.AddString(k)
	}
	probes := make([]string, benchPool)
	for i := range probes {
		probes[i] = randUUID(r)
	}
	var mu sync.RWMutex
	impls := []struct {
		name string
		test func(string) bool
	}{
		{"own", func(k string) bool { return own.mayContain(seedIx.hashJTI(k)) }},
		{"bloomv3-nolock", other.TestString},
		{"bloomv3-rlock", func(k string) bool {
			mu.RLock()
			defer mu.RUnlock()
			return other.TestString(k)
		}},
	}
	for _, impl := range impls {
		b.Run(impl.name+"/serial", func(b *testing.B) {
			defer reportCPU(b)()
			sink := 0
			for i := 0; b.Loop(); i++ {
				if impl.test(probes[i&(benchPool-1)]) {
					sink++
				}
			}
			b.ReportMetric(float64(sink)/float64(b.N), "fp/op")
		})
		b.Run(impl.name+"/parallel", func(b *testing.B) {
			defer reportCPU(b)()
			b.RunParallel(func(pb *testing.PB) {
				var buf [8]byte
				binary.LittleEndian.PutUint64(buf[:], rand.Uint64())
				i := int(buf[0])
				for pb.Next() {
					impl.test(probes[i&(benchPool-1)])
					i++
				}
			})
		})
	}
}
