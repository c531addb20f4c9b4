package index

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// Benchmark fixture: one index of 1M entries shared by the Check
// benchmarks: 980k UUID jtis, 10k non-UUID jtis, 9k subjects, 1k kids, so
// that a not-revoked token pays for all three claims.
const (
	benchUUIDs   = 980_000
	benchStrJTIs = 10_000
	benchSubs    = 9_000
	benchKids    = 1_000
	benchPool    = 4096 // distinct tokens cycled through by Check benchmarks
)

// benchToken is one token's claims as strings and as byte slices.
type benchToken struct {
	jti, sub, kid    string
	bjti, bsub, bkid []byte
	iat              int64
}

func newBenchToken(jti, sub, kid string, iat int64) benchToken {
	return benchToken{jti, sub, kid, []byte(jti), []byte(sub), []byte(kid), iat}
}

type benchFixture struct {
	ix         *Index
	miss, hit  []benchToken
	hitSub     []benchToken
	hitKid     []benchToken
	revokedJTI []string
}

var benchIndex = sync.OnceValue(func() *benchFixture {
	ix := New(Options{})
	r := rand.New(rand.NewPCG(11, 12))
	const far = math.MaxInt64
	fx := &benchFixture{ix: ix}
	for i := range benchUUIDs {
		j := randUUID(r)
		ix.RevokeJTI(j, far)
		if i < benchPool {
			fx.revokedJTI = append(fx.revokedJTI, j)
		}
	}
	for i := range benchStrJTIs {
		ix.RevokeJTI(fmt.Sprintf("session-%d", i), far)
	}
	for i := range benchSubs {
		ix.RevokeSub(fmt.Sprintf("revoked-user-%d", i), math.MaxInt64, far)
	}
	for i := range benchKids {
		ix.RevokeKid(fmt.Sprintf("revoked-key-%d", i), far)
	}
	for i := range benchPool {
		sub, kid := fmt.Sprintf("user-%d", i), fmt.Sprintf("key-%d", i%16)
		fx.miss = append(fx.miss, newBenchToken(randUUID(r), sub, kid, 1_700_000_000))
		fx.hit = append(fx.hit, newBenchToken(fx.revokedJTI[i], sub, kid, 1_700_000_000))
		fx.hitSub = append(fx.hitSub, newBenchToken(randUUID(r), fmt.Sprintf("revoked-user-%d", i%benchSubs), kid, 1_700_000_000))
		fx.hitKid = append(fx.hitKid, newBenchToken(randUUID(r), sub, fmt.Sprintf("revoked-key-%d", i%benchKids), 1_700_000_000))
	}
	for _, tk := range fx.miss {
		if ix.Check(tk.jti, tk.sub, tk.kid, tk.iat) != None {
			panic("bench miss token is revoked")
		}
	}
	return fx
})

// benchCheck runs Check (or CheckBytes) over tokens, serially or in parallel.
func benchCheck(b *testing.B, tokens []benchToken, want Kind, bytes, parallel bool) {
	ix := benchIndex().ix
	b.ReportAllocs()
	defer reportCPU(b)()
	check := func(tk *benchToken) Kind {
		if bytes {
			return ix.CheckBytes(tk.bjti, tk.bsub, tk.bkid, tk.iat)
		}
		return ix.Check(tk.jti, tk.sub, tk.kid, tk.iat)
	}
	if !parallel {
		for i := 0; b.Loop(); i++ {
			if check(&tokens[i&(benchPool-1)]) != want {
				b.Fatal("wrong result")
			}
		}
		return
	}
	var seed atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(1) * 977)
		for pb.Next() {
			if check(&tokens[i&(benchPool-1)]) != want {
				panic("wrong result")
			}
			i++
		}
	})
}

// reportCPU starts measuring process CPU time; the returned func reports it
// as "cpu-ns/op" (CPU time summed over all threads, so for a parallel
// benchmark it is the cost per op, not the latency).
func reportCPU(b *testing.B) func() {
	start := processCPU()
	b.ResetTimer()
	return func() {
		b.StopTimer()
		if b.N > 0 {
			b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// benchModes runs body as string/bytes x serial/parallel sub-benchmarks.
func benchModes(b *testing.B, tokens func() []benchToken, want Kind) {
	for _, bytes := range []bool{false, true} {
		for _, parallel := range []bool{false, true} {
			name := map[bool]string{false: "string", true: "bytes"}[bytes] +
				map[bool]string{false: "/serial", true: "/parallel"}[parallel]
			b.Run(name, func(b *testing.B) { benchCheck(b, tokens(), want, bytes, parallel) })
		}
	}
}

// BenchmarkCheckMiss: a not-revoked token (random UUID jti, sub, kid) at 1M entries.
func BenchmarkCheckMiss(b *testing.B) {
	benchModes(b, func() []benchToken { return benchIndex().miss }, None)
}

// BenchmarkCheckHit: a token whose UUID jti is revoked, at 1M entries.
func BenchmarkCheckHit(b *testing.B) {
	benchModes(b, func() []benchToken { return benchIndex().hit }, JTI)
}

// BenchmarkCheckHitSub and BenchmarkCheckHitKid: matched on a later claim.
func BenchmarkCheckHitSub(b *testing.B) {
	b.Run("string/serial", func(b *testing.B) { benchCheck(b, benchIndex().hitSub, Sub, false, false) })
}

// BenchmarkCheckHitKid: matched on the kid, after a jti and a sub miss.
func BenchmarkCheckHitKid(b *testing.B) {
	b.Run("string/serial", func(b *testing.B) { benchCheck(b, benchIndex().hitKid, Kid, false, false) })
}

// revokeKeys is a pool of distinct UUID jtis for BenchmarkRevoke.
var revokeKeys = sync.OnceValue(func() []string {
	r := rand.New(rand.NewPCG(13, 14))
	keys := make([]string, 1<<20)
	for i := range keys {
		keys[i] = randUUID(r)
	}
	return keys
})

// BenchmarkRevoke inserts new UUID jtis (the index is replaced each time the
// 1M key pool wraps, outside the timer).
func BenchmarkRevoke(b *testing.B) {
	keys := revokeKeys()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		ix := New(Options{})
		defer reportCPU(b)()
		i := 0
		for b.Loop() {
			if i == len(keys) {
				b.StopTimer()
				ix, i = New(Options{}), 0
				b.StartTimer()
			}
			ix.RevokeJTI(keys[i], math.MaxInt64)
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		ix := New(Options{})
		defer reportCPU(b)()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				// Wrapping re-revokes keys: an update, not an insert.
				ix.RevokeJTI(keys[int(next.Add(1))&(len(keys)-1)], math.MaxInt64)
			}
		})
	})
}
