package handlerbench

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/revocd/revocd/actors/audit"
	"github.com/revocd/revocd/bench/harness"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
)

// BenchmarkStartupRebuild is the start-up index rebuild as server.Run does
// it (ActiveRevocations → audit.ApplyEvent) over 200k pre-loaded jti
// revocations; ns/op divided by 200k is the per-entry cost.
func BenchmarkStartupRebuild(b *testing.B) {
	const n = 200_000
	ctx := context.Background()
	db := filepath.Join(b.TempDir(), "r.db")
	if err := harness.PreloadRevocations(ctx, db, n); err != nil {
		b.Fatal(err)
	}
	store, err := sqlitestore.Open(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	b.ResetTimer()
	for b.Loop() {
		ix := index.New(index.Options{})
		loaded := 0
		err := store.ActiveRevocations(ctx, time.Now().UnixMilli(), func(e *revocation.Event) error {
			audit.ApplyEvent(ix, e)
			loaded++
			return nil
		})
		if err != nil || loaded != n {
			b.Fatalf("loaded %d: %v", loaded, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
}
