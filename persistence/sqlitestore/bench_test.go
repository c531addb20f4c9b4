package sqlitestore

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"syscall"
	"testing"

	"github.com/google/uuid"

	"github.com/revocd/revocd/revocation"
)

// BenchmarkCommitBatch measures durable group commits: one op is one
// transaction of k events, fsynced on Commit. Each transaction's events are
// one batch signed by eventsig.Signer.SignBatch (before the timer starts),
// as the audit writer does: real 3.3 KB batch signatures and Merkle proofs.
// Event ids are UUIDv7 and expiries follow ts, so the index inserts append;
// "random" uses UUIDv4 ids and expiries spread over a day, the worst case
// where every event dirties its own index pages. "multirow" inserts with
// Tx.InsertEvents instead of one InsertEvent per event.
//
//	go test -run '^$' -bench CommitBatch -benchtime 200x ./persistence/sqlitestore/
func BenchmarkCommitBatch(b *testing.B) {
	for _, c := range []struct {
		k             int
		random, multi bool
	}{{1, false, false}, {64, false, false}, {256, false, false}, {256, true, false},
		{64, false, true}, {256, false, true}} {
		name := fmt.Sprintf("events=%d", c.k)
		if c.random {
			name += "/random"
		}
		if c.multi {
			name += "/multirow"
		}
		k := c.k
		b.Run(name, func(b *testing.B) {
			s, _ := openTest(b)
			ctx := context.Background()
			evs := make([]*revocation.Event, b.N*k)
			for i := range evs {
				ts := int64(1.7e12) + int64(i)
				evs[i] = mkEvent("bench", uint64(i+1), ts, ts+3_600_000)
				if c.random {
					evs[i].EventID = uuid.NewString()
					evs[i].ExpiresAt = ts + mrand.Int64N(86_400_000)
				}
			}
			for i := 0; i < b.N; i++ {
				if err := benchSigner(b).SignBatch(evs[i*k : (i+1)*k]); err != nil {
					b.Fatal(err)
				}
			}
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tx, err := s.Begin(ctx)
				if err != nil {
					b.Fatal(err)
				}
				batch := evs[i*k : (i+1)*k]
				if c.multi {
					if _, err := tx.InsertEvents(batch, 1); err != nil {
						b.Fatal(err)
					}
				} else {
					for _, e := range batch {
						if _, err := tx.InsertEvent(e, 1); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			n := float64(b.N * k)
			b.ReportMetric(n/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(cpuTime()-cpu0)/1e3/n, "cpu-µs/event")
			if err := s.Checkpoint(ctx); err != nil {
				b.Fatal(err)
			}
			var pages, pageSize int64
			if err := s.r.QueryRowContext(ctx, "SELECT page_count, page_size FROM pragma_page_count, pragma_page_size").Scan(&pages, &pageSize); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(pages*pageSize)/n, "db-B/event")
		})
	}
}

// BenchmarkActiveRevocations measures the start-up index rebuild scan over
// 100k stored events; s/1M-rows extrapolates the load time of 1M rows.
//
//	go test -run '^$' -bench ActiveRevocations ./persistence/sqlitestore/
func BenchmarkActiveRevocations(b *testing.B) {
	const rows = 100_000
	s, _ := openTest(b)
	ctx := context.Background()
	for start := 0; start < rows; start += 500 {
		tx, err := s.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for i := start; i < start+500; i++ {
			e := mkEvent("bench", uint64(i+1), int64(i), int64(1e12+i))
			e.Type = []revocation.Type{revocation.TypeJTI, revocation.TypeSub, revocation.TypeKid}[i%3]
			if _, err := tx.InsertEvent(e, 1); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("rows=100k", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			n := 0
			if err := s.ActiveRevocations(ctx, 0, func(*revocation.Event) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
			if n != rows {
				b.Fatalf("scanned %d rows, want %d", n, rows)
			}
		}
		sec := b.Elapsed().Seconds()
		b.ReportMetric(float64(b.N*rows)/sec, "rows/s")
		b.ReportMetric(sec/float64(b.N)*1e6/rows, "s/1M-rows")
	})
}

// cpuTime returns the process's user+system CPU time in nanoseconds: on a
// shared machine it is a steadier cost measure than wall time.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
