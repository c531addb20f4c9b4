package cluster

import (
	"fmt"
	"time"
)

// PeerStatus is one peer's replication state as reported by Node.Status.
type PeerStatus struct {
	ID        string
	Addr      string
	Connected bool
	// Settled is false only while this node is still catching up with a
	// reachable peer after its start (bounded by Config.StartupGrace).
	Settled bool
	// Lag is how many events the peer lacks from us by its last digest.
	Lag uint64
	// LastSeen is when the last message from the peer arrived (zero: never).
	LastSeen time.Time
}

// Detail renders the status for /ready, e.g. "connected, lag=0 events".
func (s PeerStatus) Detail() string {
	state := "connected"
	switch {
	case !s.Settled:
		state = "syncing"
	case !s.Connected && s.LastSeen.IsZero():
		state = "disconnected (never seen)"
	case !s.Connected:
		state = fmt.Sprintf("disconnected (last seen %s ago)", time.Since(s.LastSeen).Round(time.Second))
	}
	return fmt.Sprintf("%s, lag=%d events", state, s.Lag)
}

// Status returns every configured peer's state, in CLUSTER_PEERS order.
// Safe for concurrent use.
func (n *Node) Status() []PeerStatus {
	now := time.Now()
	out := make([]PeerStatus, 0, len(n.peers))
	for _, p := range n.peers {
		n.settle(p, now)
		s := PeerStatus{ID: p.id, Addr: p.addr, Connected: p.connected.Load(), Settled: p.settled.Load()}
		if ns := p.lastSeen.Load(); ns != 0 {
			s.LastSeen = time.Unix(0, ns)
		}
		if d := p.digest(); d != nil {
			s.Lag = n.have.lag(p.id, d)
		}
		out = append(out, s)
	}
	return out
}

// settle latches p's start-up catch-up as done once this node holds
// everything p's digest says p holds, or StartupGrace has passed. Safe for
// concurrent use.
func (n *Node) settle(p *peer, now time.Time) {
	if p.settled.Load() {
		return
	}
	if d := p.digest(); d != nil && n.have.covers(d) {
		if p.settled.CompareAndSwap(false, true) {
			n.log.Info("caught up with peer", "peer", p.id, "took", now.Sub(n.start).Round(time.Millisecond))
		}
		return
	}
	if now.Sub(n.start) > n.cfg.StartupGrace && p.settled.CompareAndSwap(false, true) {
		n.log.Warn("start-up catch-up with peer not complete; serving anyway", "peer", p.id, "grace", n.cfg.StartupGrace)
	}
}
