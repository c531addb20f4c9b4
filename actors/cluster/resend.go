package cluster

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/revocd/revocd/transport/remote"
)

// ackTimeout is how many SyncIntervals a resend round stays in flight
// while the peer's digests show no progress through it before it counts
// as lost (as many as a silent peer takes to count as disconnected).
const ackTimeout = 3

// resender answers one peer's digests with the events it lacks, on its
// own goroutine so a slow store read or a large backlog for one peer
// never delays the actor or other peers. request is safe for concurrent
// use; only the newest digest is kept.
//
// Resends are rate-limited per peer: a Hello can be sent by anyone who
// can reach the listener and claim the peer's NODE_ID, and each may ask
// for ResendBudget events. One round runs at a time. A round that sent
// events stays in flight until a digest from the peer covers everything it
// sent, or the peer's digests showed no progress through it for ackTimeout
// sync intervals (it was lost). A new round starts only when none is in
// flight and Config.ResendInterval has passed since the last one, except
// that a round which stopped at its budget (More) is continued as soon as
// a digest covers it: a catch-up goes at the pace the peer applies it,
// each continuation sending only events not sent before. Digests that
// start no round are counted as suppressed and the newest is answered
// when the wait ends. Rounds that find nothing to send are free. Replies
// always go to the peer's configured address, never to the message's
// sender.
type resender struct {
	n    *Node
	p    *peer
	wake chan struct{}

	mu      sync.Mutex
	want    map[string]uint64 // newest digest not yet answered; nil: none
	ready   bool              // want was admitted: answer it now
	running bool              // a round was admitted and has not finished
	// last is when the last round that sent events was admitted (a round
	// that finds nothing to send gives its slot back: prev).
	last, prev time.Time
	inflight   bool              // the last round sent events the peer has not acknowledged
	more       bool              // that round stopped at its budget
	sentTop    map[string]uint64 // per origin, the last seq it sent
	progress   time.Time         // when the peer's digest last advanced through it
	position   uint64            // how far through it that digest was
}

func newResender(n *Node, p *peer) *resender {
	return &resender{n: n, p: p, wake: make(chan struct{}, 1)}
}

// request schedules a resend round against the peer's digest have,
// received at now. It reports whether the round starts now (or joins one
// about to start); otherwise the request waits, replaced by any newer
// one, and the caller counts it as suppressed.
func (r *resender) request(have map[string]uint64, now time.Time) bool {
	r.mu.Lock()
	r.want = have
	admit := r.ready
	if !r.running {
		acked := covers(have, r.sentTop)
		if acked {
			r.inflight = false
		} else if pos := position(have, r.sentTop); r.inflight && pos > r.position {
			r.progress, r.position = now, pos
		}
		admit = (r.more && acked) || !now.Before(r.dueLocked())
		if admit {
			r.admit(now)
		}
	}
	r.mu.Unlock()
	r.poke()
	return admit
}

// dueLocked returns when a round that does not continue the last one may
// start; r.mu is held.
func (r *resender) dueLocked() time.Time {
	if r.last.IsZero() {
		return r.last
	}
	due := r.last.Add(r.n.cfg.ResendInterval)
	if lost := r.progress.Add(ackTimeout * r.n.cfg.SyncInterval); r.inflight && lost.After(due) {
		due = lost
	}
	return due
}

// admit marks the pending digest to be answered now; r.mu is held.
func (r *resender) admit(now time.Time) {
	r.ready, r.running = true, true
	r.prev, r.last = r.last, now
	r.inflight, r.more, r.sentTop = false, false, nil
}

// record notes that the running round, answering digest theirs,
// finished having sent events up to top per origin (none: empty) and
// stopped at its budget when more.
func (r *resender) record(theirs, top map[string]uint64, more bool) {
	r.mu.Lock()
	r.running = false
	if len(top) == 0 {
		r.last = r.prev
	} else {
		r.inflight, r.more, r.sentTop = true, more, top
		r.progress, r.position = time.Now(), position(theirs, top)
	}
	r.mu.Unlock()
}

func (r *resender) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// position sums, over the origins of top, how far digest have reaches
// toward top.
func position(have, top map[string]uint64) uint64 {
	var n uint64
	for o, s := range top {
		n += min(have[o], s)
	}
	return n
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
		if r.want != nil && !r.running {
			if due := r.dueLocked(); now.Before(due) {
				// Deferred: answer the newest digest when the wait ends.
				timer.Reset(due.Sub(now))
			} else {
				r.admit(now)
			}
		}
		var want map[string]uint64
		if r.ready {
			want, r.want, r.ready = r.want, nil, false
		}
		r.mu.Unlock()
		if want == nil {
			continue
		}
		r.round(ctx, want)
		// A request deferred during the round may be due already.
		r.poke()
	}
}

// round sends, for every origin but the peer's own, the stored events
// after the peer's contiguous prefix, at most ResendBudget of them; when
// the budget runs out it sends an empty batch with More set so the peer
// asks again after applying what it got. It records the round (record)
// before it returns, and before the More batch the peer answers.
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
				r.record(theirs, sent, true)
				r.n.send(r.p, &remote.EventBatch{NodeId: r.n.cfg.NodeID, Resend: true, More: true})
				return
			}
			evs, err := r.n.cfg.Store.EventsFromOrigin(ctx, o, from, min(PageSize, budget))
			if err != nil {
				if ctx.Err() == nil {
					r.n.log.Warn("anti-entropy read failed", "peer", r.p.id, "origin", o, "err", err)
				}
				r.record(theirs, sent, false)
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
	r.record(theirs, sent, false)
}
