package outbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
)

// flakySink fails its first failures deliveries, then records events.
type flakySink struct {
	mu       sync.Mutex
	failures int
	got      []string
	calls    int
}

func (s *flakySink) Deliver(_ context.Context, events []revocation.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failures > 0 {
		s.failures--
		return errors.New("destination down")
	}
	for _, e := range events {
		s.got = append(s.got, e.Value)
	}
	return nil
}

func (s *flakySink) values() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func commitEvents(t *testing.T, store *sqlitestore.Store, origin string, from, n int) int64 {
	t.Helper()
	tx, err := store.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := from; i < from+n; i++ {
		e := &revocation.Event{EventID: fmt.Sprintf("%s-%04d", origin, i), Type: revocation.TypeJTI, Value: fmt.Sprintf("v%04d", i),
			TS: now.UnixMilli(), ExpiresAt: now.Add(time.Hour).UnixMilli(), Origin: origin, Seq: uint64(i + 1), KeyID: "k", Alg: revocation.SigAlg, Sig: []byte{1}}
		if _, err := tx.InsertEvent(e, now.UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	last, _ := store.LastEventID(context.Background())
	return last
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDeliversInOrderWithRetryAndResumesFromCursor(t *testing.T) {
	store, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	e, _ := actor.NewEngine(actor.NewEngineConfig())
	sink := &flakySink{failures: 3}
	prog := &Progress{}
	cfg := Config{Name: "test", Store: store, Sink: sink, Progress: prog, BatchSize: 7, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, PollInterval: time.Hour}
	pid := e.Spawn(New(cfg), "outbox")

	last := commitEvents(t, store, "n", 0, 20)
	e.Send(pid, &Notify{LastID: last})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if !prog.Wait(ctx, last) {
		t.Fatalf("cursor %d never reached %d", prog.Cursor(), last)
	}
	got := sink.values()
	if len(got) != 20 {
		t.Fatalf("delivered %d events, want 20", len(got))
	}
	for i, v := range got {
		if v != fmt.Sprintf("v%04d", i) {
			t.Fatalf("out of order at %d: %v", i, got)
		}
	}
	if ok, _ := prog.Healthy(); !ok || prog.Backlog() != 0 {
		t.Fatalf("healthy=%v backlog=%d", ok, prog.Backlog())
	}
	<-e.Poison(pid).Done()

	// A new actor (a restart) resumes from the durable cursor: only new
	// events are delivered.
	cur, err := store.Cursor(context.Background(), "test")
	if err != nil || cur != last {
		t.Fatalf("persisted cursor = %d (%v), want %d", cur, err, last)
	}
	last2 := commitEvents(t, store, "n", 20, 5)
	sink2 := &flakySink{}
	prog2 := &Progress{}
	cfg.Sink, cfg.Progress = sink2, prog2
	pid = e.Spawn(New(cfg), "outbox2")
	defer func() { <-e.Poison(pid).Done() }()
	waitFor(t, "resumed delivery", func() bool { return prog2.Cursor() >= last2 })
	if got := sink2.values(); len(got) != 5 || got[0] != "v0020" {
		t.Fatalf("after restart delivered %v, want v0020..v0024", got)
	}
}

func TestWaitRespectsContext(t *testing.T) {
	var p Progress
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if p.Wait(ctx, 5) {
		t.Fatal("Wait reported success without progress")
	}
	p.set(5)
	if !p.Wait(context.Background(), 5) {
		t.Fatal("Wait missed reached cursor")
	}
}

// blockingSink holds every delivery until released.
type blockingSink struct {
	entered chan struct{}
	release chan struct{}
	flakySink
}

func (s *blockingSink) Deliver(ctx context.Context, events []revocation.Event) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.flakySink.Deliver(ctx, events)
}

// TestReceiveDoesNotWaitOnDelivery: while a delivery hangs on the
// destination, the actor keeps taking notifications (the backlog it reports
// grows); once the destination answers, everything is delivered in order.
// On the old code the delivery ran inside Receive and the second Notify
// waited behind it.
func TestReceiveDoesNotWaitOnDelivery(t *testing.T) {
	store, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	e, _ := actor.NewEngine(actor.NewEngineConfig())
	sink := &blockingSink{entered: make(chan struct{}, 1), release: make(chan struct{})}
	prog := &Progress{}
	pid := e.Spawn(New(Config{Name: "slow", Store: store, Sink: sink, Progress: prog, BatchSize: 100, Timeout: time.Hour, PollInterval: time.Hour}), "outbox")
	defer func() { <-e.Poison(pid).Done() }()

	first := commitEvents(t, store, "n", 0, 3)
	e.Send(pid, &Notify{LastID: first})
	select {
	case <-sink.entered:
	case <-time.After(15 * time.Second):
		t.Fatal("no delivery started")
	}
	last := commitEvents(t, store, "n", 3, 4)
	e.Send(pid, &Notify{LastID: last})
	waitFor(t, "the Notify sent during a hanging delivery to be taken", func() bool { return prog.Backlog() == last })
	close(sink.release)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if !prog.Wait(ctx, last) {
		t.Fatalf("cursor %d never reached %d", prog.Cursor(), last)
	}
	if got := sink.values(); len(got) != 7 || got[0] != "v0000" || got[6] != "v0006" {
		t.Fatalf("delivered %v, want v0000..v0006 in order", got)
	}
}
