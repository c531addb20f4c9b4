package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
)

// preloadOrigin is the origin of pre-loaded events: not any node's id, so
// the node's own sequence numbers are untouched.
const preloadOrigin = "bench-preload"

// preloadBatch is the number of events per transaction.
const preloadBatch = 50_000

// PreloadJTI returns the i-th pre-loaded jti, a well-formed UUID v4.
func PreloadJTI(i int) string {
	return fmt.Sprintf("b0b0%04x-%04x-4%03x-8%03x-%012x", (i>>44)&0xffff, (i>>28)&0xffff, (i>>16)&0xfff, (i>>4)&0xfff, i)
}

// PreloadRevocations writes n active revoke_jti events (expiring in a day)
// straight into the SQLite audit log at path with sqlitestore, in large
// transactions. The start-up rebuild (ActiveRevocations) reads type,
// value, ts, expires_at, event_id, origin and seq only; signatures are not
// checked there, so the events are unsigned.
func PreloadRevocations(ctx context.Context, path string, n int) error {
	store, err := sqlitestore.Open(ctx, path)
	if err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	defer store.Close()
	now := time.Now()
	ts, exp := now.UnixMilli(), now.Add(24*time.Hour).UnixMilli()
	for start := 0; start < n; start += preloadBatch {
		tx, err := store.Begin(ctx)
		if err != nil {
			return fmt.Errorf("preload: %w", err)
		}
		for i := start; i < min(start+preloadBatch, n); i++ {
			e := revocation.Event{
				EventID: fmt.Sprintf("bench-preload-%d", i), Type: revocation.TypeJTI, Value: PreloadJTI(i),
				TS: ts, ExpiresAt: exp, Reason: "bench", Origin: preloadOrigin, Seq: uint64(i + 1),
			}
			if _, err := tx.InsertEvent(&e, ts); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("preload event %d: %w", i, err)
			}
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("preload: %w", err)
		}
	}
	return nil
}
