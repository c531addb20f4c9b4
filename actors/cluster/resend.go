package cluster

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/revocd/revocd/transport/remote"
)

// resender answers one peer's digests with the events it lacks, on its
// own goroutine so a slow store read or a large backlog for one peer
// never delays the actor or other peers. request is safe for concurrent
// use; only the newest digest is kept.
//
// Resends are rate-limited per peer: a Hello can be sent by anyone who
// can reach the listener and claim the peer's NODE_ID, and each may ask
// for ResendBudget events. A round starts at most once per
// Config.ResendInterval, except that a round which stopped at its budget
// (More) is continued at once when the peer's next digest shows it holds
// everything that round sent (so a catch-up goes at the pace the peer
// applies it, and each continuation only sends events not sent before).
// Replies always go to the peer's configured address, never to the
// message's sender.
type resender struct {
	n    *Node
	p    *peer
	wake chan struct{}

	mu      sync.Mutex
	want    map[string]uint64 // newest digest not yet answered; nil: none
	ready   bool              // want was admitted: answer it now
	last    time.Time         // when the last round was admitted
	more    bool              // the last round stopped at its budget (and was not continued yet)
	sentTop map[string]uint64 // per origin, the last seq that round sent
}

func newResender(n *Node, p *peer) *resender {
	return &resender{n: n, p: p, wake: make(chan struct{}, 1)}
}

// request schedules a resend round against the peer's digest have,
// received at now. It reports whether the round starts now; otherwise the
// request waits for the end of the resend interval (replaced by any newer
// one) and the caller counts it as suppressed.
func (r *resender) request(have map[string]uint64, now time.Time) bool {
	r.mu.Lock()
	r.want = have
	admit := r.last.IsZero() || now.Sub(r.last) >= r.n.cfg.ResendInterval || (r.more && covers(have, r.sentTop))
	if admit {
		r.ready, r.last, r.more = true, now, false
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return admit
}

// covers reports whether digest have holds every seq in top.
func covers(have, top map[string]uint64) bool {
	for o, s := range top {
		if have[o] < s {
			return false
		}
	}
	return true
}

func (r *resender) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-timer.C:
		}
		now := time.Now()
		r.mu.Lock()
		want := r.want
		due := r.last.Add(r.n.cfg.ResendInterval)
		switch {
		case want == nil:
		case r.ready || !now.Before(due):
			if !r.ready {
				r.last, r.more = now, false
			}
			r.want, r.ready = nil, false
		default:
			// Deferred: answer the newest digest when the interval ends.
			timer.Reset(due.Sub(now))
			want = nil
		}
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
	sent := map[string]uint64{}
	for _, o := range origins {
		from := theirs[o]
		for from < ours[o] {
			if budget <= 0 {
				// Record the round before the peer can answer More.
				r.mu.Lock()
				r.more, r.sentTop = true, sent
				r.mu.Unlock()
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
			sent[o] = from
		}
	}
}
