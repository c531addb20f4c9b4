package cluster

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/revocd/revocd/revocation"
)

// Ingest worker limits.
const (
	ingestQueue   = 1024             // batches waiting for the worker
	mergeEvents   = 4096             // events merged into one ingest round
	ingestTimeout = 30 * time.Second // per round
)

// inbound is one received EventBatch waiting for the ingest worker.
type inbound struct {
	p      *peer
	events []revocation.Event
	more   bool
	at     time.Time // when the replicator received it
}

// ingestLoop is the single ingest worker: it merges queued batches, drops
// events this node already holds, ingests the rest (one Ingest call per
// source peer, concurrently, so they share a group commit) and keeps the
// digest current. It also refreshes the digest from the store every
// ProbeInterval to see events that arrived by other paths.
func (n *Node) ingestLoop(ctx context.Context) {
	t := time.NewTicker(n.cfg.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := n.have.refresh(ctx, n.cfg.Store); err != nil && ctx.Err() == nil {
				n.log.Warn("cluster digest refresh failed", "err", err)
			}
		case in := <-n.queue:
			n.ingest(ctx, n.drain(in))
		}
	}
}

// drain returns first plus whatever else is queued, up to mergeEvents.
func (n *Node) drain(first inbound) []inbound {
	batch, total := []inbound{first}, len(first.events)
	for total < mergeEvents {
		select {
		case in := <-n.queue:
			batch = append(batch, in)
			total += len(in.events)
		default:
			return batch
		}
	}
	return batch
}

type peerEvents struct {
	p      *peer
	events []revocation.Event
	err    error
}

func (n *Node) ingest(ctx context.Context, batch []inbound) {
	var (
		groups []*peerEvents
		byPeer = map[*peer]*peerEvents{}
		// seen holds, per event id, the copies already taken this round.
		// Only an exact copy is dropped: a forged event carrying a genuine
		// event's id must not shadow the genuine one, because nothing here
		// has verified either yet (Ingest does, before anything is marked
		// seen or applied).
		seen = map[string][]*revocation.Event{}
		more []*peer
	)
	for _, in := range batch {
		if in.more {
			more = append(more, in.p)
		}
		for i := range in.events {
			e := &in.events[i]
			if e.Origin == n.cfg.NodeID || n.have.has(e.Origin, e.Seq) {
				continue
			}
			if slices.ContainsFunc(seen[e.EventID], func(s *revocation.Event) bool { return sameEvent(s, e) }) {
				continue
			}
			seen[e.EventID] = append(seen[e.EventID], e)
			g := byPeer[in.p]
			if g == nil {
				g = &peerEvents{p: in.p}
				byPeer[in.p] = g
				groups = append(groups, g)
			}
			g.events = append(g.events, *e)
		}
	}
	if len(groups) > 0 {
		ictx, cancel := context.WithTimeout(ctx, ingestTimeout)
		var wg sync.WaitGroup
		for _, g := range groups {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g.err = n.cfg.Ingest(ictx, g.events, g.p.source)
			}()
		}
		wg.Wait()
		cancel()
		for _, g := range groups {
			if g.err == nil {
				n.have.addCommitted(g.events)
				continue
			}
			// Some events were refused (counted by Ingest) or the commit
			// failed: learn from the store what is really held.
			n.m.ingestErr.WithLabelValues(g.p.id).Inc()
			n.log.Debug("ingest of peer events", "peer", g.p.id, "events", len(g.events), "err", g.err)
			origins := map[string]struct{}{}
			for _, e := range g.events {
				origins[e.Origin] = struct{}{}
			}
			for o := range origins {
				if err := n.have.advance(ctx, n.cfg.Store, o); err != nil && ctx.Err() == nil {
					n.log.Warn("cluster digest refresh failed", "origin", o, "err", err)
				}
			}
		}
	}
	now := time.Now()
	for _, in := range batch {
		n.m.ingestDelay.Observe(now.Sub(in.at).Seconds())
	}
	for _, p := range more {
		n.cfg.Engine.Send(n.pid, helloTo{p: p})
	}
}

// sameEvent reports whether a and b are the same event in every field,
// signature included.
func sameEvent(a, b *revocation.Event) bool {
	return a.EventID == b.EventID && a.Type == b.Type && a.Value == b.Value && a.TS == b.TS &&
		a.ExpiresAt == b.ExpiresAt && a.Reason == b.Reason && a.Origin == b.Origin && a.Seq == b.Seq &&
		a.KeyID == b.KeyID && a.Alg == b.Alg && bytes.Equal(a.Sig, b.Sig)
}
