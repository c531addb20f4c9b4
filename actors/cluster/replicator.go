package cluster

import (
	"errors"
	"fmt"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/remote"
)

// Messages of the replicator actor.
type (
	// tick paces staleness checks, periodic Hellos, reconnect probes and
	// digest refreshes from the store.
	tick struct{}
	// helloReceived is a Hello as the receiver delivers it, with the
	// connection it came on: its remote address and, with TLS, the client
	// certificate's subject and names. With TLS, the Hello's NodeId must
	// be named by the certificate (see bound); from is for logs.
	helloReceived struct {
		hello *remote.Hello
		from  string
		names []string // the TLS certificate's names; nil without TLS
	}
	// batchReceived is an EventBatch as the receiver delivers it (see
	// helloReceived).
	batchReceived struct {
		batch *remote.EventBatch
		from  string
		names []string
	}
	// probeDone reports a reconnect probe of a disconnected peer.
	probeDone struct {
		peer string
		err  error
	}
	// localCommitted reports that this node committed its own events up
	// to seq (sent by Broadcast).
	localCommitted struct{ seq uint64 }
	// scanDone reports a read of the store for the digest (scanStore).
	scanDone struct {
		res haveScan
		err error
	}
	// ingested reports, from a peer's worker, that the events it was
	// handed in batches batches went through Ingest (err: not all of them
	// are stored); more is set when one of those batches asked for a new
	// Hello once applied.
	ingested struct {
		peer    string
		events  []revocation.Event
		batches int
		more    bool
		err     error
	}
)

// replState is the replicator's state. It outlives a restart of the actor
// after a panic (the producer hands the same state to each incarnation)
// and is touched only by the actor.
type replState struct {
	have  *haveState
	peers []*peer
	byID  map[string]*peer
	// pending holds, per event id, the events handed to a peer's worker
	// for ingest and not yet reported back. A copy of one of them that
	// arrives meanwhile is dropped; only an exact copy, because nothing
	// before Ingest has verified either: a forged event carrying a genuine
	// event's id must not shadow the genuine one.
	pending map[string][]revocation.Event
	// scanning is set while a scanStore runs; rescan asks for another one
	// after it (an Ingest failed meanwhile).
	scanning, rescan bool
	// warnedFrom holds the refusals already logged (warnFrom).
	warnedFrom map[string]bool
}

// replicator is the actor peers send EventBatch and Hello to. It owns the
// peers' state and this node's digest; each peer's resend rounds and the
// ingest of its batches run in that peer's worker, a child actor, and
// every store read, probe and Ingest call runs on a goroutine that reports
// back with a message, so Receive never blocks. After every message it
// publishes an immutable snapshot for Broadcast and Status.
type replicator struct {
	n      *Node
	s      *replState
	repeat *actor.SendRepeater
}

// Receive implements actor.Receiver.
func (r *replicator) Receive(c *actor.Context) {
	now := time.Now()
	switch m := c.Message().(type) {
	case actor.Started:
		rep := c.Engine().SendRepeat(c.PID(), tick{}, r.n.cfg.ProbeInterval)
		r.repeat = &rep
		r.spawnWorkers(c)
		r.onTick(c, now)
	case actor.Stopped:
		if r.repeat != nil {
			r.repeat.Stop()
			r.repeat = nil
		}
		return
	case tick:
		r.onTick(c, now)
	case helloReceived:
		r.onHello(c, m.hello, m.from, m.names, now)
	case batchReceived:
		r.onBatch(c, m.batch, m.from, m.names, now)
	case announceReceived:
		r.onAnnounce(m)
	case sendFailed:
		r.onSendFailed(m)
	case probeDone:
		r.onProbe(m, now)
	case localCommitted:
		r.s.have.noteLocal(m.seq)
	case scanDone:
		r.onScan(c, m, now)
	case ingested:
		r.onIngested(c, m, now)
	default:
		return
	}
	r.publish()
}

// spawnWorkers starts one peerWorker per peer (kept across a restart).
func (r *replicator) spawnWorkers(c *actor.Context) {
	for _, p := range r.s.peers {
		if p.child != nil {
			continue
		}
		p.child = c.SpawnChild(newPeerWorker(r.n, p, c.PID(), r.n.senders[p.id]), "peer", actor.WithID(p.id))
	}
}

func (r *replicator) onTick(c *actor.Context, now time.Time) {
	n, s := r.n, r.s
	stale := 3 * n.cfg.SyncInterval
	for _, p := range s.peers {
		if p.connected && now.Sub(p.lastSeen) > stale {
			r.markDown(p, "silent for "+stale.String())
		}
		switch {
		case p.connected:
			if now.Sub(p.lastHello) >= n.cfg.SyncInterval {
				r.sendHello(p, false, now)
			}
		case !p.probing:
			p.probing = true
			r.probe(c, p)
		}
		r.settle(p, now)
		if p.theirHave != nil {
			n.m.lag.WithLabelValues(p.id).Set(float64(s.have.lag(p.id, p.theirHave)))
		}
	}
	if !s.scanning {
		r.scan(c)
	}
}

// probe checks, on a goroutine, that p's address accepts a connection
// (and the TLS handshake) before anything is handed to hollywood, whose
// stream router dials synchronously.
func (r *replicator) probe(c *actor.Context, p *peer) {
	self, e, id, addr, tlsCfg := c.PID(), c.Engine(), p.id, p.addr, r.n.cfg.TLS
	r.n.workers.spawn(func() {
		e.Send(self, probeDone{peer: id, err: probeAddr(addr, tlsCfg)})
	})
}

// scan reads the store for the digest on a goroutine: events that arrived
// by other paths (Kafka), or what a failed Ingest really stored.
func (r *replicator) scan(c *actor.Context) {
	r.s.scanning, r.s.rescan = true, false
	self, e, n, contig := c.PID(), c.Engine(), r.n, r.s.have.contigCopy()
	n.workers.spawn(func() {
		res, err := scanStore(n.ctx, n.cfg.Store, n.cfg.NodeID, contig)
		e.Send(self, scanDone{res: res, err: err})
	})
}

func (r *replicator) onScan(c *actor.Context, m scanDone, now time.Time) {
	s := r.s
	s.scanning = false
	s.have.apply(m.res)
	if m.err != nil && r.n.ctx.Err() == nil {
		r.n.log.Warn("cluster digest refresh failed", "err", m.err)
	}
	if s.rescan {
		r.scan(c)
		return
	}
	for _, p := range s.peers {
		r.settle(p, now)
	}
}

// onHello records a peer's digest, answers it with our own when the peer
// just (re)connected or asked, and hands it to the peer's worker, which
// resends what the peer lacks.
//
// A round is resent only to the configured address of the peer the Hello
// names, and at most once per ResendInterval unless it continues a
// catch-up (see peerWorker): a Hello can claim any NodeId.
func (r *replicator) onHello(c *actor.Context, h *remote.Hello, from string, names []string, now time.Time) {
	n, s := r.n, r.s
	p := r.peerOf(h.GetNodeId(), from, names)
	if p == nil {
		return
	}
	fresh := r.markSeen(p, now)
	p.setDigest(h.GetHave())
	if ahead := s.have.ownAhead(p.theirHave); ahead > 0 {
		r.warnOnce(p, problemOwnLogBehind, from, fmt.Errorf("the peer holds %d events of origin %s beyond this node's last (seq %d)", ahead, n.cfg.NodeID, s.have.maxes()[n.cfg.NodeID]))
	}
	if fresh || h.GetReply() {
		r.sendHello(p, false, now)
	}
	c.Send(p.child, resendRequest{have: p.theirHave, ours: s.have.maxes(), at: now, from: from})
	n.m.lag.WithLabelValues(p.id).Set(float64(s.have.lag(p.id, p.theirHave)))
	r.settle(p, now)
}

// onBatch drops the events of a peer's batch this node holds or is
// ingesting already and hands the rest to the peer's worker.
func (r *replicator) onBatch(c *actor.Context, b *remote.EventBatch, from string, names []string, now time.Time) {
	n, s := r.n, r.s
	p := r.peerOf(b.GetNodeId(), from, names)
	if p == nil {
		return
	}
	if r.markSeen(p, now) {
		// It sends to us but we thought it gone: exchange digests now.
		r.sendHello(p, true, now)
	}
	events := FromProto(b.GetEvents())
	n.m.received.WithLabelValues(p.id).Add(float64(len(events)))
	if p.queued >= ingestQueue {
		// Anti-entropy repairs the loss: the gap shows in our next digest.
		r.reject("queue_full", p.id, from)
		return
	}
	keep := events[:0]
	for i := range events {
		e := &events[i]
		if e.Origin == n.cfg.NodeID || s.have.has(e.Origin, e.Seq) || r.isPending(e) {
			continue
		}
		s.pending[e.EventID] = append(s.pending[e.EventID], *e)
		keep = append(keep, *e)
	}
	if len(keep) == 0 && !b.GetMore() {
		return
	}
	p.queued++
	c.Send(p.child, ingestRequest{events: keep, more: b.GetMore(), at: now})
}

// isPending reports whether an exact copy of e is being ingested.
func (r *replicator) isPending(e *revocation.Event) bool {
	for i := range r.s.pending[e.EventID] {
		if sameEvent(&r.s.pending[e.EventID][i], e) {
			return true
		}
	}
	return false
}

// unpend forgets e as being ingested.
func (r *replicator) unpend(e *revocation.Event) {
	l := r.s.pending[e.EventID]
	for i := range l {
		if sameEvent(&l[i], e) {
			l = append(l[:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(r.s.pending, e.EventID)
	} else {
		r.s.pending[e.EventID] = l
	}
}

// onIngested updates the digest after a peer's worker ingested events and
// asks the peer for more when a batch said there is.
func (r *replicator) onIngested(c *actor.Context, m ingested, now time.Time) {
	n, s := r.n, r.s
	p := s.byID[m.peer]
	if p == nil {
		return
	}
	p.queued = max(0, p.queued-m.batches)
	for i := range m.events {
		r.unpend(&m.events[i])
	}
	r.noteIngest(p, len(m.events), m.err)
	if m.err == nil {
		s.have.addCommitted(m.events)
	} else {
		// Some events were refused (counted by Ingest) or the commit
		// failed: learn from the store what is really held.
		n.m.ingestErr.WithLabelValues(p.id).Inc()
		n.log.Debug("ingest of peer events", "peer", p.id, "events", len(m.events), "err", m.err)
		if s.scanning {
			s.rescan = true
		} else {
			r.scan(c)
		}
	}
	if m.more {
		r.sendHello(p, false, now)
	}
	r.settle(p, now)
}

// onSendFailed handles a sender's report that the connection to a peer
// could not be opened or was lost.
func (r *replicator) onSendFailed(m sendFailed) {
	if p := r.s.byID[m.peer]; p != nil {
		r.n.log.Debug("send to peer failed", "peer", p.id, "addr", p.addr, "dropped", m.dropped, "err", m.err)
		r.markDown(p, "connection lost")
	}
}

func (r *replicator) onProbe(m probeDone, now time.Time) {
	p := r.s.byID[m.peer]
	if p == nil {
		return
	}
	p.probing = false
	if p.connected {
		return
	}
	if m.err != nil {
		r.n.log.Debug("peer probe failed", "peer", p.id, "addr", p.addr, "err", m.err)
		if p.lastSeen.IsZero() && !p.settled {
			p.settled = true
			r.n.log.Info("peer unreachable at start; not waiting for it", "peer", p.id, "addr", p.addr)
		}
		return
	}
	// Reachable: ask for its digest; its answer marks it connected.
	r.sendHello(p, true, now)
}

func (r *replicator) sendHello(p *peer, reply bool, now time.Time) {
	r.sendAnnouncement(p)
	r.n.senders[p.id].send(outMsg{hello: &remote.Hello{NodeId: r.n.cfg.NodeID, Have: r.s.have.digest(), Reply: reply}})
	p.lastHello = now
}

// markSeen records a message from p and reports whether p just became
// connected.
func (r *replicator) markSeen(p *peer, now time.Time) bool {
	p.lastSeen = now
	if p.connected {
		return false
	}
	p.connected = true
	r.n.log.Info("peer connected", "peer", p.id, "addr", p.addr)
	r.n.m.connected.WithLabelValues(p.id).Set(1)
	return true
}

func (r *replicator) markDown(p *peer, reason string) {
	if !p.connected {
		return
	}
	p.connected = false
	r.n.log.Warn("peer disconnected", "peer", p.id, "addr", p.addr, "reason", reason)
	r.n.m.connected.WithLabelValues(p.id).Set(0)
}

// settle latches p's start-up catch-up as done once this node holds
// everything p's digest says p holds, or StartupGrace has passed.
func (r *replicator) settle(p *peer, now time.Time) {
	if p.settled {
		return
	}
	n := r.n
	if p.theirHave != nil && r.s.have.covers(p.theirHave) {
		p.settled = true
		n.log.Info("caught up with peer", "peer", p.id, "took", now.Sub(n.start).Round(time.Millisecond))
		return
	}
	if now.Sub(n.start) > n.cfg.StartupGrace {
		p.settled = true
		n.log.Warn("start-up catch-up with peer not complete; serving anyway", "peer", p.id, "grace", n.cfg.StartupGrace)
	}
}

// publish stores an immutable snapshot of the peers' state for Broadcast
// and Status.
func (r *replicator) publish() {
	snap := &snapshot{peers: make([]peerSnapshot, len(r.s.peers))}
	for i, p := range r.s.peers {
		ps := peerSnapshot{
			status: PeerStatus{ID: p.id, Addr: p.addr, Connected: p.connected, Settled: p.settled, LastSeen: p.lastSeen, Problem: p.problem},
			digest: p.theirHave,
		}
		if p.theirHave != nil {
			ps.status.Lag = r.s.have.lag(p.id, p.theirHave)
			ps.status.Behind = r.s.have.behind(p.theirHave)
			if ahead := r.s.have.ownAhead(p.theirHave); ahead > 0 && ps.status.Problem == "" {
				ps.status.Problem = fmt.Sprintf("%s (%d events): restore under a new NODE_ID", problemOwnLogBehind, ahead)
			}
		}
		snap.peers[i] = ps
	}
	r.n.snap.Store(snap)
}

// peerOf returns the configured peer a message names, nil (counted and
// logged) if none is configured with that NODE_ID or, with TLS, the
// connection's certificate does not name it.
func (r *replicator) peerOf(nodeID, from string, names []string) *peer {
	p := r.s.byID[nodeID]
	if p == nil {
		r.reject("unknown_peer", nodeID, from)
		r.warnFrom("message from a node not in CLUSTER_PEERS ignored", from, nodeID, nil,
			"list the node in CLUSTER_PEERS with the NODE_ID it runs with")
		return nil
	}
	if !bound(p, names) {
		r.reject("identity_mismatch", nodeID, from)
		r.warnOnce(p, problemIdentity, from, errors.New("the connection's certificate does not name this node"))
		return nil
	}
	return p
}

func (r *replicator) reject(reason, nodeID, from string) {
	r.n.m.rejected.WithLabelValues(reason).Inc()
	r.n.log.Debug("peer message ignored", "reason", reason, "node_id", nodeID, "from", from)
}
