package kafkasource

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/revocd/revocd/revocation"
)

// fakeSink accepts events whose key id is "trusted" and records freshness.
type fakeSink struct {
	mu       sync.Mutex
	applied  []string
	refused  []string
	fresh    time.Time
	staleFor time.Duration
}

func (s *fakeSink) Apply(_ context.Context, e *revocation.Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.KeyID != "trusted" {
		s.refused = append(s.refused, e.EventID)
		return false
	}
	s.applied = append(s.applied, e.EventID)
	return true
}

func (s *fakeSink) Fresh(asOf time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if asOf.After(s.fresh) {
		s.fresh = asOf
	}
}

func (s *fakeSink) MaxStaleness() time.Duration { return s.staleFor }

func (s *fakeSink) snapshot() (applied, refused int, fresh time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.applied), len(s.refused), s.fresh
}

// waitFor polls cond until it holds; guard is a hang guard only.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestSourceDeliversAndTracksFreshness: events already on the topic (from
// before the Source started) and produced later are handed to the sink,
// refused ones skipped; freshness is reported only once the group has
// committed up to the end offsets, and stops advancing once the broker is
// gone.
func TestSourceDeliversAndTracksFreshness(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "revocations"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("revocations"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	produce := func(id, kid string) {
		t.Helper()
		e := revocation.Event{EventID: id, Type: revocation.TypeJTI, Value: id, TS: time.Now().UnixMilli(),
			ExpiresAt: time.Now().Add(time.Hour).UnixMilli(), Origin: "n", Seq: 1, KeyID: kid, Alg: revocation.SigAlg, Sig: []byte("sig")}
		val, _ := json.Marshal(e)
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("revoke_jti:" + id), Value: val}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce("old-1", "trusted") // retained before the Source starts

	src, err := New(Options{Brokers: c.ListenAddrs(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	sink := &fakeSink{staleFor: 500 * time.Millisecond}
	rctx, rcancel := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- src.Run(rctx, sink) }()

	produce("new-1", "trusted")
	produce("forged-1", "attacker")
	afterProduce := time.Now()
	waitFor(t, "events delivered", func() bool { a, r, _ := sink.snapshot(); return a == 2 && r == 1 })
	waitFor(t, "fresh after the last produce", func() bool { _, _, f := sink.snapshot(); return f.After(afterProduce) })

	c.Close()
	_, _, f1 := sink.snapshot()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) { // freshness must not advance with the broker gone
		if _, _, f := sink.snapshot(); f.After(f1.Add(sink.staleFor)) {
			t.Fatalf("fresh as of %v with the broker down since %v", f, f1)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rcancel()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestNewOptions(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without brokers: nil error")
	}
	a, _ := New(Options{Brokers: []string{"127.0.0.1:9092"}})
	b, _ := New(Options{Brokers: []string{"127.0.0.1:9092"}})
	if a.GroupID() == b.GroupID() {
		t.Fatalf("default groups equal: %s", a.GroupID())
	}
	c, _ := New(Options{Brokers: []string{"127.0.0.1:9092"}, GroupID: "mine"})
	if c.GroupID() != "mine" {
		t.Fatalf("GroupID %q", c.GroupID())
	}
}
