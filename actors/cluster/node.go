package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/remote"
)

// closeTimeout bounds how long Close waits for the actor and workers.
const closeTimeout = 2 * time.Second

// Node is a running replication layer: the replicator actor, the ingest
// worker and one resend worker per peer. Broadcast, Status and Close are
// safe for concurrent use.
type Node struct {
	cfg   Config
	log   *slog.Logger
	m     *metrics
	have  *haveState
	peers []*peer
	byID  map[string]*peer
	queue chan inbound
	start time.Time
	pid   *actor.PID

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Start loads this node's digest from the store, spawns the replicator
// actor on cfg.Engine and starts its workers; they run until ctx ends or
// Close is called. It fails on an invalid configuration, when the metrics
// cannot be registered or the store cannot be read.
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
	n := &Node{
		cfg: cfg, log: cfg.Logger, m: m, have: newHaveState(cfg.NodeID),
		byID: map[string]*peer{}, queue: make(chan inbound, ingestQueue), start: time.Now(),
	}
	if err := n.have.load(ctx, cfg.Store); err != nil {
		return nil, err
	}
	ctx, n.cancel = context.WithCancel(ctx)
	for _, pc := range cfg.Peers {
		p := newPeer(pc)
		p.resend = newResender(n, p)
		n.peers = append(n.peers, p)
		n.byID[p.id] = p
		m.connected.WithLabelValues(p.id).Set(0)
		n.wg.Add(1)
		go func() { defer n.wg.Done(); p.resend.run(ctx) }()
	}
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.ingestLoop(ctx) }()
	n.log.Info("cluster replication starting", "node", cfg.NodeID, "listen", cfg.Engine.Address(),
		"peers", len(n.peers), "tls", cfg.TLS != nil, "digest", n.have.digest())
	// The actor starts probing from Started, inside Spawn: set its PID first.
	n.pid = PIDFor(cfg.Engine.Address())
	cfg.Engine.Spawn(func() actor.Receiver { return &replicator{n: n} }, Kind, actor.WithID(ID))
	if err := listen(cfg.Engine, n.refused, n.log); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// PID returns the replicator actor's PID.
func (n *Node) PID() *actor.PID { return n.pid }

// Broadcast sends this node's newly committed events to every connected
// peer, as EventBatches of at most MaxBatchEvents events. It never blocks
// (hollywood queues the messages); disconnected peers get the events by
// anti-entropy when they return. It is meant to be called on the audit
// writer's goroutine after a commit, with events whose Origin is this node.
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
	n.have.noteLocal(top)
	var msgs []*remote.EventBatch
	for _, p := range n.peers {
		if !p.connected.Load() {
			n.m.skipped.WithLabelValues(p.id).Add(float64(len(events)))
			continue
		}
		if msgs == nil {
			for chunk := range slices.Chunk(events, MaxBatchEvents) {
				msgs = append(msgs, &remote.EventBatch{NodeId: n.cfg.NodeID, Events: ToProto(chunk)})
			}
		}
		for _, msg := range msgs {
			n.send(p, msg)
		}
		n.m.sent.WithLabelValues(p.id).Add(float64(len(events)))
	}
}

// send hands msg to hollywood for the peer's replicator, addressed by the
// configured peer address (never by a sender PID).
func (n *Node) send(p *peer, msg any) { n.cfg.Engine.Send(p.pid, msg) }

// Close stops the remote listener, the actor and the workers, waiting at
// most a few seconds (an Ingest call in flight is abandoned, not awaited).
// Safe to call more than once.
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
		done := make(chan struct{})
		go func() { n.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			n.log.Warn("cluster: workers still busy at close")
		}
	})
}
