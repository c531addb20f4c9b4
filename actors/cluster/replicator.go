package cluster

import (
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/revocd/revocd/transport/remote"
)

// Internal messages of the replicator actor.
type (
	// tick paces staleness checks, periodic Hellos and reconnect probes.
	tick struct{}
	// probeResult reports a reconnect probe of a disconnected peer.
	probeResult struct {
		p   *peer
		err error
	}
	// helloTo asks for a Hello to p (after applying a resend marked More).
	helloTo struct{ p *peer }
	// received is a Hello or EventBatch as the receiver delivers it, with
	// the connection it came on: its remote address and, with TLS, the
	// client certificate's subject. Nothing binds the message's NodeId to
	// that connection yet; it is for logs.
	received struct {
		msg  any
		from string
	}
)

// replicator is the actor peers send EventBatch and Hello to. It owns the
// peers' connection state transitions; heavy work (store reads, Ingest)
// runs on the Node's workers, so Receive never blocks. Its state lives in
// the Node, so a restart after a panic loses nothing.
type replicator struct {
	n      *Node
	repeat *actor.SendRepeater
}

// Receive implements actor.Receiver.
func (r *replicator) Receive(c *actor.Context) {
	n := r.n
	switch m := c.Message().(type) {
	case actor.Started:
		c.Engine().Subscribe(c.PID()) // for actor.RemoteUnreachableEvent
		rep := c.Engine().SendRepeat(c.PID(), tick{}, n.cfg.ProbeInterval)
		r.repeat = &rep
		n.onTick(time.Now())
	case actor.Stopped:
		if r.repeat != nil {
			r.repeat.Stop()
			r.repeat = nil
		}
		c.Engine().Unsubscribe(c.PID())
	case tick:
		n.onTick(time.Now())
	case received:
		switch msg := m.msg.(type) {
		case *remote.Hello:
			n.onHello(msg, m.from, time.Now())
		case *remote.EventBatch:
			n.onBatch(msg, m.from, time.Now())
		}
	case actor.RemoteUnreachableEvent:
		n.onUnreachable(m.ListenAddr)
	case probeResult:
		n.onProbe(m)
	case helloTo:
		n.sendHello(m.p, false, time.Now())
	}
}
