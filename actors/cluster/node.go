package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/remote"
)

// closeTimeout bounds how long Close waits for the actor and workers.
const closeTimeout = 2 * time.Second

// Node is a running replication layer: the replicator actor, one worker
// actor per peer and the goroutines they start. Broadcast, Status and
// Close are safe for concurrent use; everything else about the peers is
// state of the replicator actor, which publishes an immutable snapshot of
// it (snap) for Broadcast and Status.
type Node struct {
	cfg   Config
	log   *slog.Logger
	m     *metrics
	start time.Time
	pid   *actor.PID
	snap  atomic.Pointer[snapshot]
	// senders holds each peer's outgoing connection, by peer id; the map
	// is not modified after Start.
	senders map[string]*sender

	ctx       context.Context // ends at Close: store reads and Ingest calls
	cancel    context.CancelFunc
	workers   workers
	closeOnce sync.Once
}

// snapshot is the peers' state as the replicator last published it, in
// CLUSTER_PEERS order. It is never modified once published.
type snapshot struct{ peers []peerSnapshot }

type peerSnapshot struct {
	status PeerStatus        // Settled as latched by the actor
	digest map[string]uint64 // the peer's last digest; nil before its first Hello
}

// Start loads this node's digest from the store, spawns the replicator
// actor (and its peer workers) on cfg.Engine and starts listening; they
// run until ctx ends or Close is called. It fails on an invalid
// configuration, when the metrics cannot be registered or the store cannot
// be read.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Engine.Registry.GetPID(Kind, ID) != nil {
		return nil, fmt.Errorf("cluster: a %s/%s actor already runs on this engine", Kind, ID)
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger, m: m, start: time.Now(), senders: map[string]*sender{}}
	st := &replState{have: newHaveState(cfg.NodeID), byID: map[string]*peer{}, pending: map[string][]revocation.Event{}}
	if err := st.have.load(ctx, cfg.Store); err != nil {
		return nil, err
	}
	n.ctx, n.cancel = context.WithCancel(ctx)
	n.pid = PIDFor(cfg.Engine.Address())
	snap := &snapshot{}
	for _, pc := range cfg.Peers {
		p := newPeer(pc)
		st.peers = append(st.peers, p)
		st.byID[p.id] = p
		m.connected.WithLabelValues(p.id).Set(0)
		snap.peers = append(snap.peers, peerSnapshot{status: PeerStatus{ID: p.id, Addr: p.addr}})
		s := newSender(p, n.pid, cfg.TLS, cfg.Engine, n.log)
		n.senders[p.id] = s
		n.workers.spawn(func() { s.run(n.ctx, &n.workers) })
	}
	n.snap.Store(snap)
	n.log.Info("cluster replication starting", "node", cfg.NodeID, "listen", cfg.Engine.Address(),
		"peers", len(st.peers), "tls", cfg.TLS != nil, "digest", st.have.digest())
	// The actor starts probing from Started, inside Spawn: its PID is set.
	r := &replicator{n: n, s: st}
	cfg.Engine.Spawn(func() actor.Receiver { return r }, Kind, actor.WithID(ID))
	if err := listen(cfg.Engine, &refusals{m: m, log: n.log}); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// PID returns the replicator actor's PID.
func (n *Node) PID() *actor.PID { return n.pid }

// Broadcast sends this node's newly committed events to every connected
// peer, as EventBatches of at most MaxBatchEvents events. It never blocks
// (each peer's sender queues the messages, dropping them when its queue is
// full); disconnected peers get the events by
// anti-entropy when they return. It is meant to be called on the fan-out
// actor's goroutine after a commit, with events whose Origin is this node.
func (n *Node) Broadcast(events []revocation.Event) {
	if len(events) == 0 {
		return
	}
	var top uint64
	for i := range events {
		if events[i].Origin == n.cfg.NodeID {
			top = max(top, events[i].Seq)
		}
	}
	n.noteLocal(top)
	var msgs []*remote.EventBatch
	for _, p := range n.snap.Load().peers {
		if !p.status.Connected {
			n.m.skipped.WithLabelValues(p.status.ID).Add(float64(len(events)))
			continue
		}
		if msgs == nil {
			for chunk := range slices.Chunk(events, MaxBatchEvents) {
				msgs = append(msgs, &remote.EventBatch{NodeId: n.cfg.NodeID, Events: ToProto(chunk)})
			}
		}
		s := n.senders[p.status.ID]
		for _, msg := range msgs {
			s.send(outMsg{batch: msg})
		}
		n.m.sent.WithLabelValues(p.status.ID).Add(float64(len(events)))
	}
}

// noteLocal tells the replicator that this node committed its own events
// up to seq.
func (n *Node) noteLocal(seq uint64) {
	if seq > 0 {
		n.cfg.Engine.Send(n.pid, localCommitted{seq: seq})
	}
}

// peerDigest returns the last digest peer id sent, as last published (nil
// before its first Hello or for an unknown peer).
func (n *Node) peerDigest(id string) map[string]uint64 {
	for _, p := range n.snap.Load().peers {
		if p.status.ID == id {
			return p.digest
		}
	}
	return nil
}

// Close stops the remote listener, the actors and their goroutines,
// waiting at most a few seconds (an Ingest call in flight is abandoned,
// not awaited). Safe to call more than once.
func (n *Node) Close() {
	n.closeOnce.Do(func() {
		n.cancel()
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		stopListener(n.cfg.Engine, ctx.Done())
		select {
		case <-n.cfg.Engine.Poison(n.pid).Done():
		case <-ctx.Done():
		}
		if !n.workers.stop(ctx.Done()) {
			n.log.Warn("cluster: workers still busy at close")
		}
	})
}

// workers tracks the goroutines the actors start (store reads, probes,
// Ingest calls); each reports back to its actor with a message. Safe for
// concurrent use.
type workers struct {
	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

// spawn runs f on a new goroutine, unless stop was called.
func (w *workers) spawn(f func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		f()
	}()
}

// stop refuses new goroutines and waits for the running ones until done
// is closed; it reports whether they all returned.
func (w *workers) stop(done <-chan struct{}) bool {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	finished := make(chan struct{})
	go func() { w.wg.Wait(); close(finished) }()
	select {
	case <-finished:
		return true
	case <-done:
		return false
	}
}
