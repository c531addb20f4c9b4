package cluster

import (
	"context"
	"slices"
	"sync"

	"github.com/revocd/revocd/transport/remote"
)

// resender answers one peer's digests with the events it lacks, on its
// own goroutine so a slow store read or a large backlog for one peer
// never delays the actor or other peers. request is safe for concurrent
// use; only the newest digest is kept.
type resender struct {
	n    *Node
	p    *peer
	wake chan struct{}

	mu   sync.Mutex
	want map[string]uint64
}

func newResender(n *Node, p *peer) *resender {
	return &resender{n: n, p: p, wake: make(chan struct{}, 1)}
}

// request schedules a resend round against the peer's digest have.
func (r *resender) request(have map[string]uint64) {
	r.mu.Lock()
	r.want = have
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *resender) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
		r.mu.Lock()
		want := r.want
		r.want = nil
		r.mu.Unlock()
		if want != nil {
			r.round(ctx, want)
		}
	}
}

// round sends, for every origin but the peer's own, the stored events
// after the peer's contiguous prefix, at most ResendBudget of them; when
// the budget runs out it sends an empty batch with More set so the peer
// asks again after applying what it got.
func (r *resender) round(ctx context.Context, theirs map[string]uint64) {
	ours := r.n.have.maxes()
	origins := make([]string, 0, len(ours))
	for o := range ours {
		if o != r.p.id && ours[o] > theirs[o] {
			origins = append(origins, o)
		}
	}
	slices.Sort(origins)
	budget := ResendBudget
	for _, o := range origins {
		from := theirs[o]
		for from < ours[o] {
			if budget <= 0 {
				r.n.send(r.p, &remote.EventBatch{NodeId: r.n.cfg.NodeID, Resend: true, More: true})
				return
			}
			evs, err := r.n.cfg.Store.EventsFromOrigin(ctx, o, from, min(PageSize, budget))
			if err != nil {
				if ctx.Err() == nil {
					r.n.log.Warn("anti-entropy read failed", "peer", r.p.id, "origin", o, "err", err)
				}
				return
			}
			if len(evs) == 0 {
				break
			}
			r.n.send(r.p, &remote.EventBatch{NodeId: r.n.cfg.NodeID, Events: ToProto(evs), Resend: true})
			r.n.m.resent.WithLabelValues(r.p.id).Add(float64(len(evs)))
			budget -= len(evs)
			from = evs[len(evs)-1].Seq
		}
	}
}
