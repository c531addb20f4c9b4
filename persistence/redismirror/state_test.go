package redismirror_test

import (
	"context"
	"testing"
	"time"

	"github.com/revocd/revocd/revocation"
)

// Replicated-state events (key_state, refresh_state) are skipped: no key
// is written for them, and the revocations of the same batch still are.
func TestDeliverSkipsStateEvents(t *testing.T) {
	f := newFixture(t)
	var batch []revocation.Event
	for _, typ := range []revocation.Type{revocation.TypeKeyState, revocation.TypeRefreshState} {
		e := f.ev(typ, "state-1", time.Hour, 0)
		e.Data = []byte(`{"v":1}`)
		batch = append(batch, e)
	}
	batch = append(batch, f.ev(revocation.TypeJTI, "tok-1", time.Hour, 0))
	f.deliver(t, batch...)
	if n := f.rdb.DBSize(context.Background()).Val(); n != 1 {
		keys := f.rdb.Keys(context.Background(), "*").Val()
		t.Fatalf("DBSIZE = %d (%v), want 1: only the revocation", n, keys)
	}
	f.assertKey(t, "revoked:jti:tok-1", "1", time.Hour)
}
