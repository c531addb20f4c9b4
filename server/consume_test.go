package server

import (
	"context"
	"crypto/rand"
	"errors"
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

// TestConsumeRecordsOnlyWrittenEvents: `revocd consume` decides replays
// against what is in Redis. An event whose Redis write failed until the
// handler was stopped is written when it comes again, not dropped as a
// replay; once written, it is a replay. The old handler recorded the id
// before the write, so the second delivery returned nil without writing.
func TestConsumeRecordsOnlyWrittenEvents(t *testing.T) {
	ctx := context.Background()
	rs := redisserver.Start(t)
	rs.Stop() // Redis down while the event first arrives
	opts, err := redismirror.ParseURL(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = -1
	rdb := redis.NewClient(opts)
	defer rdb.Close()

	signer, v := producerKeys(t)
	ev := revocation.Event{EventID: uuid.NewString(), Type: revocation.TypeJTI, Value: uuid.NewString(),
		TS: time.Now().UnixMilli(), ExpiresAt: time.Now().Add(time.Hour).UnixMilli(), Origin: "producer", Seq: 1}
	if err := signer.SignBatch([]*revocation.Event{&ev}); err != nil {
		t.Fatal(err)
	}
	logs := make(chan string, 16)
	h := &consumeHandler{verifier: v, replay: eventsig.NewReplayGuard(time.Minute, nil), mirror: redismirror.New(rdb, nil), log: slog.New(signalHandler{logs})}

	stop, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.handle(stop, &ev) }()
	select {
	case msg := <-logs:
		if msg != "consume: redis write failed; retrying" {
			t.Fatalf("logged %q, want the retry warning", msg)
		}
	case err := <-done:
		t.Fatalf("handler returned %v with Redis down", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no failed write within 30 s")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped handler returned %v, want context.Canceled (offset not committed)", err)
	}

	rs.Restart()
	steps := []struct {
		name    string
		applied int64
		dropped int64
	}{
		{"redelivery after the failed write is written", 1, 0},
		{"delivery of a written event is a replay", 1, 1},
	}
	for _, s := range steps {
		if err := h.handle(ctx, &ev); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got, err := rdb.Get(ctx, "revoked:jti:"+ev.Value).Result(); err != nil || got != "1" {
			t.Fatalf("%s: revoked:jti key = %q, %v; want \"1\"", s.name, got, err)
		}
		if a, d := h.applied.Load(), h.dropped.Load(); a != s.applied || d != s.dropped {
			t.Fatalf("%s: applied=%d dropped=%d, want %d and %d", s.name, a, d, s.applied, s.dropped)
		}
	}
}

// producerKeys returns the event signer of a producer ("producer") and a
// verifier that trusts it.
func producerKeys(t *testing.T) (*eventsig.Signer, *eventsig.Verifier) {
	t.Helper()
	signer, err := eventsig.NewSigner("producer", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v := eventsig.NewVerifier()
	if err := v.Trust(signer.KeyID(), signer.PublicKey()); err != nil {
		t.Fatal(err)
	}
	return signer, v
}

// signalHandler is a slog.Handler that reports each record's message on a
// channel (non-blocking), so a test can wait for a logged retry.
type signalHandler struct{ msgs chan string }

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.msgs <- r.Message:
	default:
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }
