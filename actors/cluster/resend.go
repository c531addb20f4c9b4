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

	mu    sync.Mutex
	want  map[string]uint64 // newest digest not yet answered; nil: none
	ready bool              // want was admitted: answer it now
	// last is when the last round that sent events was admitted (a round
	// that finds nothing to send gives its slot back: prev).
	last, prev time.Time
	more       bool              // the last round stopped at its budget (and was not continued yet)
	sentTop    map[string]uint64 // per origin, the last seq that round sent
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
	admit := r.ready || r.last.IsZero() || now.Sub(r.last) >= r.n.cfg.ResendInterval ||
		(r.more && covers(have, r.sentTop))
	if admit && !r.ready {
		r.admit(now)
	}
	r.mu.Unlock()
	r.poke()
	return admit
}

// admit marks the pending digest to be answered now; r.mu is held.
func (r *resender) admit(now time.Time) {
	r.ready, r.prev, r.last, r.more = true, r.last, now, false
}

func (r *resender) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
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
		if r.want != nil && !r.ready {
			if due := r.last.Add(r.n.cfg.ResendInterval); now.Before(due) {
				// Deferred: answer the newest digest when the interval ends.
				timer.Reset(due.Sub(now))
			} else {
				r.admit(now)
			}
		}
		var want map[string]uint64
		if r.ready {
			want, r.want, r.ready = r.want, nil, false
		}
		admitted := r.last
		r.mu.Unlock()
		if want == nil {
			continue
		}
		if sent := r.round(ctx, want); sent == 0 {
			r.mu.Lock()
			if r.last.Equal(admitted) {
				r.last = r.prev
			}
			r.mu.Unlock()
		}
		// A request deferred during the round may be due already.
		r.poke()
	}
}

// round sends, for every origin but the peer's own, the stored events
// after the peer's contiguous prefix, at most ResendBudget of them; when
// the budget runs out it sends an empty batch with More set so the peer
// asks again after applying what it got. It returns how many events it
// sent.
func (r *resender) round(ctx context.Context, theirs map[string]uint64) int {
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
				return ResendBudget
			}
			evs, err := r.n.cfg.Store.EventsFromOrigin(ctx, o, from, min(PageSize, budget))
			if err != nil {
				if ctx.Err() == nil {
					r.n.log.Warn("anti-entropy read failed", "peer", r.p.id, "origin", o, "err", err)
				}
				return ResendBudget - budget
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
	return ResendBudget - budget
}
