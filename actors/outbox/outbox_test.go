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
	if !awaitDelivered(t, e, pid, last, 15*time.Second) {
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

// awaitDelivered asks the outbox actor to answer once position logID is
// delivered or wait passes, and returns the answer's OK.
func awaitDelivered(t *testing.T, e *actor.Engine, pid *actor.PID, logID int64, wait time.Duration) bool {
	t.Helper()
	res, err := e.Request(pid, &AwaitDelivered{LogID: logID, Deadline: time.Now().Add(wait)}, wait+15*time.Second).Result()
	if err != nil {
		t.Fatalf("AwaitDelivered %d: %v", logID, err)
	}
	d, ok := res.(*Delivered)
	if !ok || d.LogID != logID {
		t.Fatalf("AwaitDelivered %d answered %#v, want *Delivered of that position", logID, res)
	}
	return d.OK
}

// TestAwaitDelivered: an AwaitDelivered is answered OK at once for a
// delivered position, OK once the cursor passes a pending one, not OK when
// its deadline passes first (a later deadline does not hold back an
// earlier one), and answered when the actor stops. This replaces the
// Progress.Wait closure the /revoke handler called through server/.
func TestAwaitDelivered(t *testing.T) {
	store, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	e, _ := actor.NewEngine(actor.NewEngineConfig())
	sink := &blockingSink{entered: make(chan struct{}, 1), release: make(chan struct{})}
	prog := &Progress{}
	pid := e.Spawn(New(Config{Name: "kafka", Store: store, Sink: sink, Progress: prog, BatchSize: 100, Timeout: time.Hour, PollInterval: time.Hour}), "outbox")
	stopped := false
	defer func() {
		if !stopped {
			<-e.Poison(pid).Done()
		}
	}()

	last := commitEvents(t, store, "n", 0, 3)
	e.Send(pid, &Notify{LastID: last})
	<-sink.entered // the delivery hangs until released

	// Two waiters on the pending position: a long one, then a short one.
	long := e.Request(pid, &AwaitDelivered{LogID: last, Deadline: time.Now().Add(time.Hour)}, 15*time.Second)
	const short = 50 * time.Millisecond
	start := time.Now()
	if awaitDelivered(t, e, pid, last, short) {
		t.Fatal("AwaitDelivered reported delivered while the destination holds the delivery")
	}
	if el := time.Since(start); el < short {
		t.Fatalf("not-delivered answer after %v, before the %v deadline", el, short)
	}
	close(sink.release)
	res, err := long.Result()
	if d, ok := res.(*Delivered); err != nil || !ok || !d.OK || d.LogID != last {
		t.Fatalf("pending waiter answered %#v, %v; want delivered %d", res, err, last)
	}
	if prog.Cursor() < last {
		t.Fatalf("answered delivered with cursor %d < %d", prog.Cursor(), last)
	}
	// A delivered position, and a deadline already past, are answered at once.
	if !awaitDelivered(t, e, pid, last, time.Hour) {
		t.Fatal("delivered position answered not delivered")
	}
	if awaitDelivered(t, e, pid, last+1, 0) {
		t.Fatal("undelivered position with a past deadline answered delivered")
	}
	// Stopping answers the pending waiters (nothing more to deliver).
	pending := e.Request(pid, &AwaitDelivered{LogID: last + 1, Deadline: time.Now().Add(time.Hour)}, 15*time.Second)
	stopped = true
	<-e.Poison(pid).Done()
	res, err = pending.Result()
	if d, ok := res.(*Delivered); err != nil || !ok || d.OK {
		t.Fatalf("waiter pending at stop answered %#v, %v; want not delivered", res, err)
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
	if !awaitDelivered(t, e, pid, last, 15*time.Second) {
		t.Fatalf("cursor %d never reached %d", prog.Cursor(), last)
	}
	if got := sink.values(); len(got) != 7 || got[0] != "v0000" || got[6] != "v0006" {
		t.Fatalf("delivered %v, want v0000..v0006 in order", got)
	}
}
