package cluster

import (
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/revocd/revocd/revocation"
)

// Messages of a peerWorker.
type (
	// resendRequest hands the worker the peer's newest digest (have), with
	// this node's highest stored seq per origin (ours), received at at
	// over the connection from.
	resendRequest struct {
		have, ours map[string]uint64
		at         time.Time
		from       string
	}
	// resendDue wakes the worker when a deferred resend may start; gen
	// tells a stale timer from the current one.
	resendDue struct{ gen uint64 }
	// pageRead reports a store page read for resend round round.
	pageRead struct {
		round  uint64
		events []revocation.Event
		err    error
	}
	// ingestRequest hands the worker events of a peer's batch to ingest
	// (those this node neither holds nor is ingesting); more is the
	// batch's More flag, at when the replicator received it.
	ingestRequest struct {
		events []revocation.Event
		more   bool
		at     time.Time
	}
	// ingestDone reports the Ingest call of the batches in flight.
	ingestDone struct{ err error }
)

// peerWorker is the replicator's child actor for one peer: it runs that
// peer's resend rounds (resend.go) and the ingest of the batches it sent
// (ingest.go), so a slow store read, a large backlog or a slow commit for
// one peer never delays the replicator or other peers. The store reads and
// Ingest calls themselves run on goroutines that report back with
// messages; the worker's state is touched only by its Receive and
// survives a restart after a panic.
type peerWorker struct {
	n      *Node
	id     string
	source string  // "peer:<id>"
	out    *sender // the peer's outgoing connection
	parent *actor.PID
	self   *actor.PID
	engine *actor.Engine

	rs resendState
	in ingestState
}

// newPeerWorker returns the producer of p's worker. Every incarnation
// gets the same state.
func newPeerWorker(n *Node, p *peer, parent *actor.PID, out *sender) actor.Producer {
	w := &peerWorker{n: n, id: p.id, source: p.source, out: out, parent: parent}
	return func() actor.Receiver { return w }
}

// Receive implements actor.Receiver.
func (w *peerWorker) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		w.self, w.engine = c.PID(), c.Engine()
	case actor.Stopped:
		w.stopTimer()
	case resendRequest:
		w.onResendRequest(m)
	case resendDue:
		w.onResendDue(m)
	case pageRead:
		w.onPage(m)
	case ingestRequest:
		w.onIngestRequest(m)
	case ingestDone:
		w.onIngestDone(m)
	}
}
