package server

import (
	"github.com/anthdm/hollywood/actor"

	"github.com/revocd/revocd/actors/audit"
	"github.com/revocd/revocd/revocation"
)

// committedSink is where a committed batch goes after the audit writer:
// the outboxes (Redis, Kafka, token events) through propagation.
type committedSink interface{ notify(audit.Committed) }

// broadcaster sends the node's own new events to its peers (cluster).
type broadcaster interface{ Broadcast([]revocation.Event) }

// fanOutTargets tells the fan-out actor where committed batches go. It is
// sent once propagation and the cluster exist, after the audit writer
// started; a batch committed before it is still delivered: the outboxes
// read the audit log from their cursors and peers catch up through
// anti-entropy.
type fanOutTargets struct {
	prop    committedSink
	cluster broadcaster
}

// fanOut is the actor that receives every *audit.Committed from the audit
// writer (a Config.Subscribers entry) and hands it on without blocking:
// propagation notifies the outbox actors, the cluster broadcasts the
// node's own events to connected peers.
type fanOut struct {
	origin  string
	targets fanOutTargets
}

func newFanOut(origin string) actor.Producer {
	return func() actor.Receiver { return &fanOut{origin: origin} }
}

// Receive implements actor.Receiver.
func (f *fanOut) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case *fanOutTargets:
		f.targets = *m
	case *audit.Committed:
		if f.targets.prop == nil {
			return
		}
		f.targets.prop.notify(*m)
		local := make([]revocation.Event, 0, len(m.Events))
		for _, e := range m.Events {
			if e.Origin == f.origin {
				local = append(local, e)
			}
		}
		if len(local) > 0 {
			f.targets.cluster.Broadcast(local)
		}
	}
}
