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
	node     string // the writer's Origin
}

func newFixture(t *testing.T) *fixture { t.Helper(); return newNodeFixture(t, "node-1", Config{}) }

// newNodeFixture is newFixture for the node origin, with cfg's AccessTTL
// and OnBadState.
func newNodeFixture(t *testing.T, origin string, cfg Config) *fixture {
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
	f := &fixture{engine: e, store: store, signer: signer, ix: index.New(index.Options{}), commits: make(chan Committed, 1024), node: origin}
	sub := e.SpawnFunc(func(c *actor.Context) {
		if m, ok := c.Message().(*Committed); ok {
			f.commits <- *m
		}
	}, "subscriber-"+origin)
	f.pid = e.Spawn(New(Config{
		Store: store, Signer: signer, Index: f.ix, Origin: origin,
		AccessTTL: cfg.AccessTTL, OnBadState: cfg.OnBadState,
		Subscribers: []*actor.PID{sub},
		Observe: func(requests, events int, _ time.Duration) {
			f.batches.Add(1)
			for {
				m := f.maxBatch.Load()
				if int64(requests) <= m || f.maxBatch.CompareAndSwap(m, int64(requests)) {
					break
				}
			}
		},
	}), "audit-"+origin)
	t.Cleanup(func() { <-e.Poison(f.pid).Done() })
	return f
}

// submit sends cmd and returns the writer's reply.
func (f *fixture) submit(t *testing.T, cmd any) any {
	t.Helper()
	res, err := f.engine.Request(f.pid, cmd, 10*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// revoke commits a jti revocation and returns the writer's *Revoked.
func (f *fixture) revoke(t *testing.T, value string) *Revoked {
	t.Helper()
	res := f.submit(t, &CommitRevocation{Type: revocation.TypeJTI, Value: value, MaxLifetime: time.Hour})
	r, ok := res.(*Revoked)
	if !ok {
		t.Fatalf("reply %T %+v, want *Revoked", res, res)
	}
	return r
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
			res, err := f.engine.Request(f.pid, &CommitRevocation{Type: revocation.TypeJTI, Value: value, MaxLifetime: time.Hour}, 10*time.Second).Result()
			r, ok := res.(*Revoked)
			if err != nil || !ok || r.LogID == 0 {
				t.Errorf("result %T %+v (%v)", res, res, err)
				return
			}
			ev := &r.Event
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

// TestRefusalDoesNotAbortBatchAndRemoteIsIdempotent: a refused command's
// audit row is committed and the refusal is its answer.
func TestRefusalDoesNotAbortBatchAndRemoteIsIdempotent(t *testing.T) {
	f := newFixture(t)
	created := f.submit(t, &CreateRefresh{Ref: Ref{ID: 7}, Row: sqlitestore.RefreshToken{
		JTI: "j", Subject: "s", FamilyID: "fam", BindingHash: []byte("right"), IssuedAt: time.Now().UnixMilli(), ExpiresAt: time.Now().Add(time.Hour).UnixMilli(),
	}})
	if r, ok := created.(*RefreshCreated); !ok || r.ID != 7 {
		t.Fatalf("create = %T %+v, want *RefreshCreated echoing ID 7", created, created)
	}
	<-f.commits
	res := f.submit(t, &RotateRefresh{Ref: Ref{ID: 8}, OldJTI: "j", Subject: "s", BindingHash: []byte("wrong"), AccessJTI: "a"})
	if r, ok := res.(*Failed); !ok || !errors.Is(r.Err, ErrBindingMismatch) || r.ID != 8 {
		t.Fatalf("rotate with a wrong binding = %T %+v, want *Failed ErrBindingMismatch echoing ID 8", res, res)
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
		// The Ref is echoed: the intake matches the Result to its delivery
		// by Ref.ID (it sends ApplyRemote with itself as the sender).
		id := uint64(40 + want)
		res, err := f.engine.Request(f.pid, &ApplyRemote{Ref: Ref{ID: id}, Events: []revocation.Event{ev}}, 10*time.Second).Result()
		if err != nil {
			t.Fatal(err)
		}
		if r := res.(*Result); r.Inserted != want || r.ID != id {
			t.Fatalf("Result = %+v, want %d inserted echoing Ref.ID %d", r, want, id)
		}
	}
	if f.ix.Check("", "bob", "", time.Now().Unix()-10) != index.Sub {
		t.Fatal("remote revoke_sub not applied to the index")
	}
}

func TestSequenceContinuesAfterRestart(t *testing.T) {
	f := newFixture(t)
	f.revoke(t, "a")
	f.revoke(t, "b")
	<-f.engine.Poison(f.pid).Done()
	f.pid = f.engine.Spawn(New(Config{Store: f.store, Signer: f.signer, Index: f.ix, Origin: "node-1"}), "audit2")
	r := f.revoke(t, "c")
	if got := r.Event.Seq; got != 3 {
		t.Fatalf("seq after restart = %d, want 3", got)
	}
}
