package audit

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
)

type fixture struct {
	engine   *actor.Engine
	pid      *actor.PID
	store    *sqlitestore.Store
	signer   *eventsig.Signer
	ix       *index.Index
	batches  atomic.Int64
	maxBatch atomic.Int64
	commits  chan Committed
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	store, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	signer, err := eventsig.NewSigner("k1", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{engine: e, store: store, signer: signer, ix: index.New(index.Options{}), commits: make(chan Committed, 1024)}
	f.pid = e.Spawn(New(Config{
		Store: store, Signer: signer, Index: f.ix, Origin: "node-1",
		OnCommit: func(c Committed) { f.commits <- c },
		Observe: func(requests, events int, _ time.Duration) {
			f.batches.Add(1)
			for {
				m := f.maxBatch.Load()
				if int64(requests) <= m || f.maxBatch.CompareAndSwap(m, int64(requests)) {
					break
				}
			}
		},
	}), "audit")
	t.Cleanup(func() { <-e.Poison(f.pid).Done() })
	return f
}

func (f *fixture) submit(t *testing.T, op Op) *Result {
	t.Helper()
	res, err := f.engine.Request(f.pid, &Submit{Op: op}, 10*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	return res.(*Result)
}

func revokeOp(value string) Op {
	return func(b *Batch) (any, error) {
		return b.Revoke(revocation.Event{Type: revocation.TypeJTI, Value: value, ExpiresAt: b.Now().Add(time.Hour).UnixMilli()}), nil
	}
}

// TestGroupCommit: concurrent revocations share transactions, every answer
// comes after its commit, sequence numbers are gap-free, every event is
// signed and applied to the index before the requester hears back.
func TestGroupCommit(t *testing.T) {
	f := newFixture(t)
	const n = 400
	var wg sync.WaitGroup
	events := make([]*revocation.Event, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			value := "jti-" + string(rune('a'+i%26)) + time.Now().Format("150405.000000000")
			r := f.submit(t, revokeOp(value))
			if r.Err != nil || r.LastID == 0 {
				t.Errorf("result %+v", r)
				return
			}
			ev := r.Value.(*revocation.Event)
			if f.ix.Check(ev.Value, "", "", 0) != index.JTI {
				t.Errorf("event %s not in the index when answered", ev.Value)
			}
			events[i] = ev
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if f.batches.Load() >= n || f.maxBatch.Load() < 2 {
		t.Fatalf("no group commit: %d transactions for %d requests (largest %d)", f.batches.Load(), n, f.maxBatch.Load())
	}
	seen := map[uint64]bool{}
	v := eventsig.NewVerifier()
	if err := v.Trust("k1", f.signer.PublicKey()); err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Origin != "node-1" || seen[e.Seq] {
			t.Fatalf("bad origin/seq: %+v", e)
		}
		seen[e.Seq] = true
		if err := v.Verify(e); err != nil {
			t.Fatalf("event %d does not verify: %v", e.Seq, err)
		}
	}
	for s := uint64(1); s <= n; s++ {
		if !seen[s] {
			t.Fatalf("sequence gap at %d", s)
		}
	}
	count, err := f.store.CountEvents(context.Background())
	if err != nil || count != n {
		t.Fatalf("audit log holds %d events (%v), want %d", count, err, n)
	}
}

func TestOpErrorDoesNotAbortBatchAndRemoteIsIdempotent(t *testing.T) {
	f := newFixture(t)
	refused := errors.New("refused")
	r := f.submit(t, func(b *Batch) (any, error) {
		if err := b.TokenEvent(sqlitestore.TokenEvent{Event: "binding_mismatch", Subject: "s", JTI: "j"}); err != nil {
			return nil, err
		}
		return nil, refused
	})
	if !errors.Is(r.Err, refused) {
		t.Fatalf("op error = %v", r.Err)
	}
	select {
	case c := <-f.commits:
		if len(c.TokenEvents) != 1 || c.TokenEvents[0].Event != "binding_mismatch" {
			t.Fatalf("the refused op's audit row was not committed: %+v", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no commit notification")
	}

	// A remote event applied twice is inserted once.
	other, _ := eventsig.NewSigner("k2", rand.Reader)
	ev := revocation.Event{EventID: "e-remote", Type: revocation.TypeSub, Value: "bob", TS: time.Now().UnixMilli(), ExpiresAt: time.Now().Add(time.Hour).UnixMilli(), Origin: "node-2", Seq: 1}
	if err := other.SignBatch([]*revocation.Event{&ev}); err != nil {
		t.Fatal(err)
	}
	for want := 1; want >= 0; want-- {
		res, err := f.engine.Request(f.pid, &ApplyRemote{Events: []revocation.Event{ev}}, 10*time.Second).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := res.(*Result).Value.(int); got != want {
			t.Fatalf("inserted %d, want %d", got, want)
		}
	}
	if f.ix.Check("", "bob", "", time.Now().Unix()-10) != index.Sub {
		t.Fatal("remote revoke_sub not applied to the index")
	}
}

func TestSequenceContinuesAfterRestart(t *testing.T) {
	f := newFixture(t)
	f.submit(t, revokeOp("a"))
	f.submit(t, revokeOp("b"))
	<-f.engine.Poison(f.pid).Done()
	f.pid = f.engine.Spawn(New(Config{Store: f.store, Signer: f.signer, Index: f.ix, Origin: "node-1"}), "audit2")
	r := f.submit(t, revokeOp("c"))
	if got := r.Value.(*revocation.Event).Seq; got != 3 {
		t.Fatalf("seq after restart = %d, want 3", got)
	}
}
