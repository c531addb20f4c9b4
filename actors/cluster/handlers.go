package cluster

import (
	"time"

	"github.com/revocd/revocd/transport/remote"
)

// The methods in this file run on the replicator actor's goroutine only.

func (n *Node) onTick(now time.Time) {
	stale := 3 * n.cfg.SyncInterval
	for _, p := range n.peers {
		if p.connected.Load() && now.Sub(time.Unix(0, p.lastSeen.Load())) > stale {
			n.markDown(p, "silent for "+stale.String())
		}
		switch {
		case p.connected.Load():
			if now.Sub(p.lastHello) >= n.cfg.SyncInterval {
				n.sendHello(p, false, now)
			}
		case p.probing.CompareAndSwap(false, true):
			go n.probe(p)
		}
		n.settle(p, now)
		if d := p.digest(); d != nil {
			n.m.lag.WithLabelValues(p.id).Set(float64(n.have.lag(p.id, d)))
		}
	}
}

// onHello records a peer's digest, answers it with our own when the peer
// just (re)connected or asked, and schedules the resend of what it lacks.
//
// A round is resent only to the configured address of the peer the Hello
// names, and at most once per ResendInterval unless it continues a
// catch-up (see resender): a Hello can claim any NodeId.
func (n *Node) onHello(h *remote.Hello, from string, now time.Time) {
	p := n.byID[h.GetNodeId()]
	if p == nil {
		n.reject("unknown_peer", h.GetNodeId(), from)
		return
	}
	fresh := n.markSeen(p, now)
	p.setDigest(h.GetHave())
	if fresh || h.GetReply() {
		n.sendHello(p, false, now)
	}
	d := p.digest()
	if !p.resend.request(d, now) {
		n.m.suppressed.WithLabelValues(p.id).Inc()
		n.log.Debug("resend to peer suppressed: the last round was too recent", "peer", p.id, "from", from)
	}
	n.m.lag.WithLabelValues(p.id).Set(float64(n.have.lag(p.id, d)))
	n.settle(p, now)
}

// onBatch queues a peer's events for the ingest worker without waiting.
func (n *Node) onBatch(b *remote.EventBatch, from string, now time.Time) {
	p := n.byID[b.GetNodeId()]
	if p == nil {
		n.reject("unknown_peer", b.GetNodeId(), from)
		return
	}
	if n.markSeen(p, now) {
		// It sends to us but we thought it gone: exchange digests now.
		n.sendHello(p, true, now)
	}
	events := FromProto(b.GetEvents())
	n.m.received.WithLabelValues(p.id).Add(float64(len(events)))
	select {
	case n.queue <- inbound{p: p, events: events, more: b.GetMore(), at: now}:
	default:
		// Anti-entropy repairs the loss: the gap shows in our next digest.
		n.reject("queue_full", p.id, from)
	}
}

// onUnreachable handles hollywood's report that the stream to addr failed
// (dial failure or connection lost).
func (n *Node) onUnreachable(addr string) {
	for _, p := range n.peers {
		if p.addr == addr {
			n.markDown(p, "connection lost")
		}
	}
}

func (n *Node) onProbe(r probeResult) {
	p := r.p
	p.probing.Store(false)
	if p.connected.Load() {
		return
	}
	if r.err != nil {
		n.log.Debug("peer probe failed", "peer", p.id, "addr", p.addr, "err", r.err)
		if p.lastSeen.Load() == 0 && p.settled.CompareAndSwap(false, true) {
			n.log.Info("peer unreachable at start; not waiting for it", "peer", p.id, "addr", p.addr)
		}
		return
	}
	// Reachable: ask for its digest; its answer marks it connected.
	n.sendHello(p, true, time.Now())
}

func (n *Node) sendHello(p *peer, reply bool, now time.Time) {
	n.send(p, &remote.Hello{NodeId: n.cfg.NodeID, Have: n.have.digest(), Reply: reply})
	p.lastHello = now
}

// markSeen records a message from p and reports whether p just became
// connected.
func (n *Node) markSeen(p *peer, now time.Time) bool {
	p.lastSeen.Store(now.UnixNano())
	if p.connected.Swap(true) {
		return false
	}
	n.log.Info("peer connected", "peer", p.id, "addr", p.addr)
	n.m.connected.WithLabelValues(p.id).Set(1)
	return true
}

func (n *Node) markDown(p *peer, reason string) {
	if !p.connected.Swap(false) {
		return
	}
	n.log.Warn("peer disconnected", "peer", p.id, "addr", p.addr, "reason", reason)
	n.m.connected.WithLabelValues(p.id).Set(0)
}

// refused counts and logs a frame or message the receiver refused from
// the connection at addr (size bytes; for a frame, the bound it exceeded).
// It runs on the connection's goroutine.
func (n *Node) refused(reason, addr string, size int, err error) {
	n.m.rejected.WithLabelValues(reason).Inc()
	switch reason {
	case rejectFrameTooLarge, rejectMessageTooLarge, rejectBatchTooLarge:
		n.log.Warn("peer message refused: too large", "reason", reason, "from", addr, "bytes", size,
			"max_frame_bytes", MaxFrameBytes, "max_batch_bytes", MaxBatchBytes, "max_batch_events", MaxBatchEvents, "err", err)
	default:
		n.log.Debug("peer message refused", "reason", reason, "from", addr, "bytes", size, "err", err)
	}
}

func (n *Node) reject(reason, nodeID, from string) {
	n.m.rejected.WithLabelValues(reason).Inc()
	n.log.Debug("peer message ignored", "reason", reason, "node_id", nodeID, "from", from)
}
