package cluster

import (
	"errors"
	"net"
	"slices"
	"strings"
)

// announceReceived is a key announcement as the receiver delivers it (see
// helloReceived).
type announceReceived struct {
	data  []byte
	from  string
	names []string
}

// Reasons a peer is not ok in /ready (PeerStatus.Problem), with the fix
// logged once per peer and reason.
const (
	problemUntrustedKey = "untrusted key"
	problemBadSignature = "bad signature"
	problemIdentity     = "certificate does not name the node"
	// problemOwnLogBehind: the peer holds events of this node's origin
	// beyond this node's own log (see haveState.ownAhead).
	problemOwnLogBehind = "holds events of this node that its log lacks"
)

// fixes are the WARN log's advice per problem.
var fixes = map[string]string{
	problemUntrustedKey: "set CLUSTER_SECRET to the same value on every node (or add the peer's key to EVENT_TRUSTED_KEYS)",
	problemBadSignature: "set CLUSTER_SECRET to the same value on every node; a node that keeps failing may have a forged or corrupted key",
	problemIdentity:     "issue the node a certificate whose SAN names its CLUSTER_PEERS host or its NODE_ID",
	problemOwnLogBehind: "this node's database lost events it published (restored from a backup under the same NODE_ID?): its new events reuse sequence numbers the peers already hold and are ignored; stop it and restore under a new NODE_ID (README: Backup and restore)",
}

// bound reports whether a message claiming to be from p may be taken
// from a connection whose TLS certificate names names (nil: no TLS, so
// nothing to bind to). With TLS, the certificate must name the peer's
// NODE_ID or the host of its CLUSTER_PEERS address.
func bound(p *peer, names []string) bool {
	if names == nil {
		return true
	}
	host, _, err := net.SplitHostPort(p.addr)
	if err != nil {
		host = p.addr
	}
	for _, n := range names {
		if strings.EqualFold(n, p.id) || strings.EqualFold(n, host) {
			return true
		}
	}
	return false
}

// onAnnounce trusts a peer's key announcement.
func (r *replicator) onAnnounce(m announceReceived) {
	n := r.n
	if n.cfg.TrustAnnouncement == nil {
		return
	}
	var refusedFor *peer
	self := false
	id, err := n.cfg.TrustAnnouncement(m.data, func(nodeID string) bool {
		if nodeID == n.cfg.NodeID {
			self = true
			return false
		}
		p := r.s.byID[nodeID]
		if p == nil {
			return false
		}
		// A peer's own announcement (bound to the connection) always
		// counts; one relayed by another peer only until the peer's key
		// is known, so that events the other peer relays verify before
		// the peer itself connects.
		if !bound(p, m.names) && p.sealed != nil {
			refusedFor = p
			return false
		}
		return true
	})
	switch {
	case self:
	case err == nil:
		if p := r.s.byID[id]; p != nil {
			p.sealed = m.data
			if p.problem == problemUntrustedKey || p.problem == problemIdentity {
				r.clearProblem(p)
			}
		}
	case refusedFor != nil:
		r.reject("identity_mismatch", id, m.from)
		r.warnOnce(refusedFor, problemIdentity, m.from, err)
	default:
		// Not attributable to a peer: the MAC failed or the node is not
		// configured. Logged once per connection address and reason.
		r.reject("bad_announcement", id, m.from)
		r.warnFrom("peer key announcement refused", m.from, id, err,
			"set CLUSTER_SECRET to the same value on every node and list every node in CLUSTER_PEERS with the NODE_ID it runs with")
	}
}

// warnFrom logs msg at WARN once per connection host and node id (at most
// 1024 of them: whoever reaches the port chooses both).
func (r *replicator) warnFrom(msg, from, nodeID string, err error, fix string) {
	host, _, _ := net.SplitHostPort(strings.Fields(from + " ")[0])
	key := host + "|" + nodeID
	if r.s.warnedFrom == nil {
		r.s.warnedFrom = map[string]bool{}
	}
	if r.s.warnedFrom[key] || len(r.s.warnedFrom) >= 1024 {
		return
	}
	r.s.warnedFrom[key] = true
	r.n.log.Warn(msg, "from", from, "node_id", nodeID, "err", err, "fix", fix)
}

// noteIngest records the outcome of ingesting a peer's events: refused
// events make the peer not ok with the reason; an ingest that applied
// events clears it.
func (r *replicator) noteIngest(p *peer, events int, err error) {
	var d interface{ Reasons() []string }
	if err == nil {
		if events > 0 {
			r.clearProblem(p)
		}
		return
	}
	if !errors.As(err, &d) {
		return
	}
	reasons := d.Reasons()
	switch {
	case slices.Contains(reasons, "unknown_key"):
		r.setProblem(p, problemUntrustedKey, err)
	case slices.Contains(reasons, "bad_signature"):
		r.setProblem(p, problemBadSignature, err)
	}
}

func (r *replicator) setProblem(p *peer, problem string, err error) {
	p.problem = problem
	r.warnOnce(p, problem, p.addr, err)
}

func (r *replicator) clearProblem(p *peer) {
	if p.problem != "" {
		r.n.log.Info("peer events verify again", "peer", p.id, "was", p.problem)
		p.problem = ""
	}
}

// warnOnce logs problem for p at WARN the first time only.
func (r *replicator) warnOnce(p *peer, problem, from string, err error) {
	if p.warned == nil {
		p.warned = map[string]bool{}
	}
	if p.warned[problem] {
		return
	}
	p.warned[problem] = true
	msg := "peer events are refused"
	if problem == problemOwnLogBehind {
		msg = "a peer holds events of this node that its log lacks"
	}
	r.n.log.Warn(msg, "peer", p.id, "from", from, "reason", problem, "err", err, "fix", fixes[problem])
}

// sendAnnouncement queues this node's key announcement for p, and those
// of the other peers it trusts (each sealed by its node: p checks them as
// it checks ours).
func (r *replicator) sendAnnouncement(p *peer) {
	a := r.n.cfg.Announcement
	if a == nil {
		return
	}
	s := r.n.senders[p.id]
	s.send(outMsg{announce: a})
	for _, q := range r.s.peers {
		if q != p && q.sealed != nil {
			s.send(outMsg{announce: q.sealed})
		}
	}
}
