package server

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/internal/testutil/redisserver"
	"github.com/revocd/revocd/persistence/redismirror"
	"github.com/revocd/revocd/revocation"
)

// TestConsumeSkipsStateEvents: `revocd consume` commits past a
// replicated-state event (key_state, refresh_state) without an error
// (so the offset is committed), writes nothing to Redis and counts it as
// skipped, neither applied nor dropped.
func TestConsumeSkipsStateEvents(t *testing.T) {
	rs := redisserver.Start(t)
	opts, err := redismirror.ParseURL(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	signer, v := producerKeys(t)
	h := &consumeHandler{verifier: v, replay: eventsig.NewReplayGuard(time.Minute, nil), mirror: redismirror.New(rdb, nil), log: slog.New(slog.DiscardHandler)}
	for i, typ := range []revocation.Type{revocation.TypeKeyState, revocation.TypeRefreshState} {
		ev := revocation.Event{EventID: uuid.NewString(), Type: typ, Value: "state-" + uuid.NewString(),
			TS: time.Now().UnixMilli(), ExpiresAt: time.Now().Add(time.Hour).UnixMilli(), Origin: "producer",
			Seq: uint64(i + 1), Data: []byte(`{"v":1}`)}
		if err := signer.SignBatch([]*revocation.Event{&ev}); err != nil {
			t.Fatal(err)
		}
		if err := h.handle(context.Background(), &ev); err != nil {
			t.Fatalf("%s: handle = %v, want nil (offset committed)", typ, err)
		}
	}
	if a, d, s := h.applied.Load(), h.dropped.Load(), h.skipped.Load(); a != 0 || d != 0 || s != 2 {
		t.Fatalf("applied=%d dropped=%d skipped=%d, want 0, 0, 2", a, d, s)
	}
	if n := rdb.DBSize(context.Background()).Val(); n != 0 {
		t.Fatalf("DBSIZE = %d, want 0", n)
	}
}
