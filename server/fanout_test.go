package server

import (
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/revocd/revocd/actors/audit"
	"github.com/revocd/revocd/revocation"
)

type recordingSink struct{ got chan audit.Committed }

func (r recordingSink) notify(c audit.Committed) { r.got <- c }

type recordingPeers struct{ got chan []revocation.Event }

func (r recordingPeers) Broadcast(evs []revocation.Event) { r.got <- evs }

// TestFanOutHandsOnCommittedBatches: every committed batch reaches
// propagation; only the node's own events are broadcast to peers, and a
// batch without local events is not broadcast at all.
func TestFanOutHandsOnCommittedBatches(t *testing.T) {
	e, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	sink := recordingSink{got: make(chan audit.Committed, 4)}
	peers := recordingPeers{got: make(chan []revocation.Event, 4)}
	pid := e.Spawn(newFanOut("node-1"), "fanout")
	defer func() { <-e.Poison(pid).Done() }()
	e.Send(pid, &fanOutTargets{prop: sink, cluster: peers})

	mixed := &audit.Committed{LastID: 2, Events: []revocation.Event{
		{EventID: "local", Origin: "node-1"}, {EventID: "remote", Origin: "node-2"},
	}}
	remoteOnly := &audit.Committed{LastID: 3, Events: []revocation.Event{{EventID: "remote-2", Origin: "node-2"}}}
	e.Send(pid, mixed)
	e.Send(pid, remoteOnly)
	for _, want := range []int64{2, 3} {
		select {
		case c := <-sink.got:
			if c.LastID != want {
				t.Fatalf("propagation got batch %d, want %d", c.LastID, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("batch %d never reached propagation", want)
		}
	}
	select {
	case evs := <-peers.got:
		if len(evs) != 1 || evs[0].EventID != "local" {
			t.Fatalf("broadcast %+v, want only the local event", evs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the local event was not broadcast")
	}
	// A later local batch is the next broadcast: the remote-only batch,
	// handed on in between, was not broadcast.
	e.Send(pid, &audit.Committed{LastID: 4, Events: []revocation.Event{{EventID: "local-2", Origin: "node-1"}}})
	select {
	case evs := <-peers.got:
		if len(evs) != 1 || evs[0].EventID != "local-2" {
			t.Fatalf("next broadcast %+v, want only local-2 (a batch without local events was broadcast)", evs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second local event was not broadcast")
	}
}
