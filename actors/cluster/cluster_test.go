package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/remote"
)

// trio starts three fully meshed nodes a, b, c.
func trio(t *testing.T) (a, b, c *testNode) {
	aAddr, bAddr, cAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	a = startTestNode(t, "a", aAddr, map[string]string{"b": bAddr, "c": cAddr}, nil)
	b = startTestNode(t, "b", bAddr, map[string]string{"a": aAddr, "c": cAddr}, nil)
	c = startTestNode(t, "c", cAddr, map[string]string{"a": aAddr, "b": bAddr}, nil)
	for _, n := range []*testNode{a, b, c} {
		eventually(t, 5*time.Second, n.id+" connected to both peers", func() bool {
			for _, s := range n.node.Status() {
				if !s.Connected {
					return false
				}
			}
			return true
		})
	}
	return a, b, c
}

func TestBroadcastReachesEveryPeer(t *testing.T) {
	a, b, c := trio(t)
	for _, batch := range []int{1, 7, 300} {
		a.commit(batch)
		b.commit(batch)
	}
	for _, n := range []*testNode{a, b, c} {
		eventually(t, 5*time.Second, n.id+" holds every event", func() bool {
			return n.store.count("a") == 308 && n.store.count("b") == 308
		})
	}
	if got := a.metric("revocd_cluster_events_sent_total", "peer", "c"); got != 308 {
		t.Errorf("events sent a→c = %v, want 308", got)
	}
	if got := c.metric("revocd_cluster_peer_connected", "peer", "a"); got != 1 {
		t.Errorf("c: peer a connected gauge = %v, want 1", got)
	}
}

func TestLateJoinerCatchesUp(t *testing.T) {
	const events = ResendBudget + 700 // needs a second resend round (More)
	aAddr, bAddr := freeAddr(t), freeAddr(t)
	a := startTestNode(t, "a", aAddr, map[string]string{"b": bAddr}, nil)
	a.commit(events)
	if got := a.metric("revocd_cluster_broadcast_skipped_total", "peer", "b"); got != events {
		t.Fatalf("skipped broadcast to absent b = %v, want %d", got, events)
	}
	b := startTestNode(t, "b", bAddr, map[string]string{"a": aAddr}, nil)
	eventually(t, 10*time.Second, "b holds all of a's events", func() bool { return b.store.count("a") == events })
	eventually(t, 5*time.Second, "b settled and lag 0 on a", func() bool {
		s := a.node.Status()[0]
		return s.Connected && s.Settled && s.Lag == 0 && strings.HasPrefix(s.Detail(), "connected, lag=0")
	})
	if got := a.metric("revocd_cluster_resent_total", "peer", "b"); got < events {
		t.Errorf("resent to b = %v, want >= %d", got, events)
	}
}

func TestRestartedNodeConverges(t *testing.T) {
	a, b, c := trio(t)
	a.commit(5)
	eventually(t, 5*time.Second, "c has a's first events", func() bool { return c.store.count("a") == 5 })
	store, addr := c.store, c.addr
	c.stop()
	eventually(t, 5*time.Second, "a sees c down", func() bool { return !a.node.Status()[1].Connected })
	a.commit(10)
	b.commit(10)
	c2 := startTestNode(t, "c", addr, map[string]string{"a": a.addr, "b": b.addr}, store)
	eventually(t, 5*time.Second, "restarted c converged", func() bool {
		return c2.store.count("a") == 15 && c2.store.count("b") == 10
	})
	eventually(t, 2*time.Second, "c2 settled with both peers", func() bool {
		for _, s := range c2.node.Status() {
			if !s.Settled {
				return false
			}
		}
		return true
	})
}

// TestRelayThroughThirdNode: a and c are not peers; c still learns a's
// events from b's log by anti-entropy (b never re-broadcasts them).
func TestRelayThroughThirdNode(t *testing.T) {
	aAddr, bAddr, cAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	a := startTestNode(t, "a", aAddr, map[string]string{"b": bAddr}, nil)
	b := startTestNode(t, "b", bAddr, map[string]string{"a": aAddr, "c": cAddr}, nil)
	c := startTestNode(t, "c", cAddr, map[string]string{"b": bAddr}, nil)
	a.commit(20)
	c.commit(3)
	eventually(t, 5*time.Second, "c learns a's events via b", func() bool { return c.store.count("a") == 20 })
	eventually(t, 5*time.Second, "a learns c's events via b", func() bool { return a.store.count("c") == 3 })
	if b.store.total() != 23 {
		t.Errorf("b holds %d events, want 23", b.store.total())
	}
}

// rogue returns a bare remoting engine that is no configured peer.
func rogue(t *testing.T) *actor.Engine { return rawEngine(t, freeAddr(t)) }

func TestPeerMessagesRejected(t *testing.T) {
	aAddr, bAddr := freeAddr(t), freeAddr(t)
	a := startTestNode(t, "a", aAddr, map[string]string{"b": bAddr}, nil)
	r := rogue(t)
	good := event("b", 1)
	forged := event("b", 1)
	forged.Value = "someone-elses-token" // signature no longer matches
	tests := []struct {
		name  string
		msg   any
		check func() bool
	}{
		{"batch from unknown node id", &remote.EventBatch{NodeId: "mallory", Events: ToProto([]revocation.Event{good})},
			func() bool { return a.metric("revocd_cluster_messages_rejected_total", "reason", "unknown_peer") == 1 }},
		{"hello from unknown node id", &remote.Hello{NodeId: "mallory", Reply: true},
			func() bool { return a.metric("revocd_cluster_messages_rejected_total", "reason", "unknown_peer") == 2 }},
		{"forged event claiming a known peer", &remote.EventBatch{NodeId: "b", Events: ToProto([]revocation.Event{forged})},
			func() bool { a.mu.Lock(); defer a.mu.Unlock(); return a.dropped == 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r.Send(PIDFor(aAddr), tc.msg)
			eventually(t, 5*time.Second, "rejection counted", tc.check)
		})
	}
	if a.store.total() != 0 {
		t.Fatalf("a stored %d events from rogue messages", a.store.total())
	}
	// The forged copy must not mask the genuine event with the same seq.
	r.Send(PIDFor(aAddr), &remote.EventBatch{NodeId: "b", Events: ToProto([]revocation.Event{good})})
	eventually(t, 5*time.Second, "genuine event accepted after the forged one", func() bool { return a.store.count("b") == 1 })
}

func TestDuplicatesAreNotIngestedTwice(t *testing.T) {
	aAddr, bAddr := freeAddr(t), freeAddr(t)
	a := startTestNode(t, "a", aAddr, map[string]string{"b": bAddr}, nil)
	r := rogue(t)
	batch := &remote.EventBatch{NodeId: "b", Events: ToProto([]revocation.Event{event("b", 1), event("b", 2)})}
	r.Send(PIDFor(aAddr), batch)
	eventually(t, 5*time.Second, "first copy stored", func() bool { return a.store.count("b") == 2 })
	a.mu.Lock()
	calls := a.calls
	a.mu.Unlock()
	r.Send(PIDFor(aAddr), batch)
	r.Send(PIDFor(aAddr), &remote.EventBatch{NodeId: "b", Events: ToProto([]revocation.Event{event("b", 3)})})
	eventually(t, 5*time.Second, "third event stored", func() bool { return a.store.count("b") == 3 })
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.calls != calls+1 {
		t.Errorf("ingest called %d more times, want 1 (the duplicate batch is filtered)", a.calls-calls)
	}
}

func TestStatusReportsDisconnectWithoutFailing(t *testing.T) {
	aAddr, bAddr := freeAddr(t), freeAddr(t)
	a := startTestNode(t, "a", aAddr, map[string]string{"b": bAddr}, nil)
	s := a.node.Status()[0]
	eventually(t, 3*time.Second, "unreachable peer settles at once", func() bool { return a.node.Status()[0].Settled })
	if s.Connected || !strings.HasPrefix(a.node.Status()[0].Detail(), "disconnected (never seen)") {
		t.Fatalf("status before b starts: %+v %q", s, s.Detail())
	}
	b := startTestNode(t, "b", bAddr, map[string]string{"a": aAddr}, nil)
	eventually(t, 3*time.Second, "a sees b", func() bool { return a.node.Status()[0].Connected })
	b.commit(3)
	b.stop()
	eventually(t, 3*time.Second, "a sees b gone", func() bool { return !a.node.Status()[0].Connected })
	got := a.node.Status()[0]
	if !got.Settled || !strings.HasPrefix(got.Detail(), "disconnected (last seen") {
		t.Errorf("status after b left: %+v %q", got, got.Detail())
	}
	if a.metric("revocd_cluster_peer_connected", "peer", "b") != 0 {
		t.Error("connected gauge still 1")
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	e, err := NewEngine(freeAddr(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	local, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	st := newMemStore()
	ingest := IngestFunc(func(context.Context, []revocation.Event, string) error { return nil })
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no node id", Config{Engine: e, Store: st, Ingest: ingest}, "NODE_ID"},
		{"no remoting", Config{NodeID: "a", Engine: local, Store: st, Ingest: ingest}, "CLUSTER_LISTEN"},
		{"peer is self", Config{NodeID: "a", Engine: e, Store: st, Ingest: ingest, Peers: []Peer{{"a", "127.0.0.1:1"}}}, "this node's NODE_ID"},
		{"peer at own address", Config{NodeID: "a", Engine: e, Store: st, Ingest: ingest, Peers: []Peer{{"b", e.Address()}}}, "CLUSTER_LISTEN address"},
		{"duplicate peer", Config{NodeID: "a", Engine: e, Store: st, Ingest: ingest, Peers: []Peer{{"b", "127.0.0.1:1"}, {"b", "127.0.0.1:2"}}}, "twice"},
		{"no store", Config{NodeID: "a", Engine: e, Ingest: ingest}, "store"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Start(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start: %v, want error containing %q", err, tc.want)
			}
		})
	}
}
