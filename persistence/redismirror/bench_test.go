package redismirror_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/revocd/revocd/persistence/redismirror"
	"github.com/revocd/revocd/revocation"
)

// BenchmarkDeliver writes batches of 256 fresh events (mixed types).
func BenchmarkDeliver(b *testing.B) {
	f := newFixture(b)
	const batchSize = 256
	types := []revocation.Type{revocation.TypeJTI, revocation.TypeSub, revocation.TypeKid}
	batch := make([]revocation.Event, batchSize)
	n := 0
	b.ResetTimer()
	for b.Loop() {
		for i := range batch {
			batch[i] = f.ev(types[n%3], fmt.Sprint("v", n), time.Hour, int64(1_700_000_000+n))
			n++
		}
		if err := f.m.Deliver(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkLoad reads back 100k keys.
func BenchmarkLoad(b *testing.B) {
	f := newFixture(b)
	const keys = 100_000
	types := []revocation.Type{revocation.TypeJTI, revocation.TypeSub, revocation.TypeKid}
	batch := make([]revocation.Event, 0, 1000)
	for i := range keys {
		batch = append(batch, f.ev(types[i%3], fmt.Sprint("v", i), time.Hour, int64(1_700_000_000+i)))
		if len(batch) == cap(batch) {
			f.deliver(b, batch...)
			batch = batch[:0]
		}
	}
	total := 0
	b.ResetTimer()
	for b.Loop() {
		st, err := f.m.Load(context.Background(), func(redismirror.Entry) {})
		if err != nil || st.Entries < keys {
			b.Fatalf("Load = %+v, %v", st, err)
		}
		total += st.Entries
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "keys/s")
}

// BenchmarkCheck is the seed's per-request Redis lookup (one pipelined
// round trip of three GETs), the baseline for in-memory checks.
func BenchmarkCheck(b *testing.B) {
	f := newFixture(b)
	f.deliver(b, f.ev(revocation.TypeSub, "alice", time.Hour, 1_700_000_000))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := f.m.Check(ctx, "j", "alice", "k", 1_700_000_001); err != nil {
			b.Fatal(err)
		}
	}
}
