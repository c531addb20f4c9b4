package cluster

import (
	"fmt"
	"strings"
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
	// Behind is how many events the peer holds by its last digest that
	// this node has not applied (events refused or still on their way).
	Behind uint64
	// Problem, when set, is why the peer's events or key announcement are
	// refused ("untrusted key", "bad signature", "certificate does not
	// name the node"), or that the peer holds events of this node that
	// this node's log lacks (a restore under the same NODE_ID): the peer
	// is not ok.
	Problem string
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
	out := fmt.Sprintf("%s, lag=%d events", state, s.Lag)
	if s.Behind > 0 {
		out += fmt.Sprintf(", behind=%d events", s.Behind)
	}
	switch {
	case strings.HasPrefix(s.Problem, problemOwnLogBehind):
		out += ", peer " + s.Problem
	case s.Problem != "":
		out += ", events refused: " + s.Problem
	}
	return out
}

// Status returns every configured peer's state, in CLUSTER_PEERS order, as
// the replicator actor last published it (after its last message, and at
// least every ProbeInterval); a peer counts as settled once StartupGrace
// has passed even if the actor has not said so yet. Safe for concurrent
// use.
func (n *Node) Status() []PeerStatus {
	graceOver := time.Since(n.start) > n.cfg.StartupGrace
	peers := n.snap.Load().peers
	out := make([]PeerStatus, len(peers))
	for i, p := range peers {
		out[i] = p.status
		out[i].Settled = out[i].Settled || graceOver
	}
	return out
}
