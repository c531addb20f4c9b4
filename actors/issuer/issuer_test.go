package issuer

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/revocd/revocd/actors/audit"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/persistence/sqlitestore"
)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct{ ms atomic.Int64 }

func (c *fakeClock) Now() time.Time { return time.UnixMilli(c.ms.Load()) }

// ringGate forwards everything to the audit writer except key-ring writes,
// which it holds until released.
type ringGate struct {
	to      *actor.PID
	held    []any // *audit.PutKeyRing, *audit.CommitKeyState
	senders []*actor.PID
	arrived chan struct{}
}

type releaseRing struct{}

func (g *ringGate) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case *audit.PutKeyRing, *audit.CommitKeyState:
		g.held, g.senders = append(g.held, m), append(g.senders, c.Sender())
		g.arrived <- struct{}{}
	case releaseRing:
		for i, m := range g.held {
			c.Engine().SendWithSender(g.to, m, g.senders[i])
		}
		g.held, g.senders = nil, nil
		c.Respond(struct{}{})
	case actor.Started, actor.Stopped, actor.Initialized:
	default:
		c.Engine().SendWithSender(g.to, m, c.Sender())
	}
}

// TestRotateKeyDoesNotBlockIssuance: while a rotation's key-ring write waits
// for the audit log, the issuer keeps answering (an access token is issued
// meanwhile); the rotation is answered only once
// the ring is durable, and the stored ring names the new key. The old
// issuer waited inside Receive for the commit (up to 10 s), so the
// issuance below timed out behind it.
func TestRotateKeyDoesNotBlockIssuance(t *testing.T) {
	clk := &fakeClock{}
	clk.ms.Store(1_700_000_000_000)
	store, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "revocd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	signer, err := eventsig.NewSigner("ev1", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	ix := index.New(index.Options{Now: clk.Now})
	auditPID := e.Spawn(audit.New(audit.Config{Store: store, Signer: signer, Index: ix, Origin: "node-1", Now: clk.Now}), "audit")
	gate := &ringGate{to: auditPID, arrived: make(chan struct{}, 4)}
	gatePID := e.Spawn(func() actor.Receiver { return gate }, "gate")
	key, err := token.GenerateKey(token.AlgEdDSA, "k1", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ring := token.NewRing(key)
	var rotatedTo atomic.Value
	issuerPID := e.Spawn(New(Config{
		Issuer: &token.Issuer{Ring: ring, Issuer: "test", Now: clk.Now}, Ring: ring, Audit: gatePID,
		Algorithm: token.AlgEdDSA, AccessTTL: time.Minute, RefreshTTL: time.Hour, Now: clk.Now, Index: ix,
		OnRotate: func(kid string) { rotatedTo.Store(kid) },
	}), "issuer")
	t.Cleanup(func() {
		for _, pid := range []*actor.PID{issuerPID, gatePID, auditPID} {
			<-e.Poison(pid).Done()
		}
	})

	rotation := e.Request(issuerPID, &RotateKey{ID: 42}, 10*time.Second)
	select {
	case <-gate.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the rotation sent no key-ring write")
	}
	res, err := e.Request(issuerPID, &IssueAccess{Subject: "ann", TTL: time.Minute}, 5*time.Second).Result()
	if err != nil {
		t.Fatalf("issuance while the ring write is pending: %v", err)
	}
	if _, ok := res.(*Issued); !ok {
		t.Fatalf("issuance answer %T, want *Issued", res)
	}
	if _, err := e.Request(gatePID, releaseRing{}, 10*time.Second).Result(); err != nil {
		t.Fatal(err)
	}
	res, err = rotation.Result()
	if err != nil {
		t.Fatal(err)
	}
	rot, ok := res.(*Rotated)
	if !ok || !rot.Rotated || rot.ID != 42 || rot.Kid == "k1" {
		t.Fatalf("rotation answer %T %+v, want *Rotated to a new kid echoing ID 42", res, res)
	}
	if got, _ := rotatedTo.Load().(string); got != rot.Kid {
		t.Fatalf("OnRotate saw %q, want %q", got, rot.Kid)
	}
	blob, ok, err := store.GetKV(context.Background(), RingKV)
	if err != nil || !ok {
		t.Fatalf("stored ring: %v %v", ok, err)
	}
	var rec ringRecord
	if err := json.Unmarshal(blob, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Current != rot.Kid || ring.Current().ID != rot.Kid {
		t.Fatalf("stored current %q, ring current %q, want %q", rec.Current, ring.Current().ID, rot.Kid)
	}
}
