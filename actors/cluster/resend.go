package cluster

import (
	"slices"
	"time"

	"github.com/revocd/revocd/transport/remote"
)

// ackTimeout is how many SyncIntervals a resend round stays in flight
// while the peer's digests show no progress through it before it counts
// as lost (as many as a silent peer takes to count as disconnected).
const ackTimeout = 3

// resendState is a peerWorker's resend side: it answers the peer's
// digests with the events it lacks, reading the store a page at a time on
// goroutines that report back (pageRead).
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
type resendState struct {
	// want is the newest digest not yet answered (nil: none), wantOurs
	// this node's maxima when it came.
	want, wantOurs map[string]uint64
	round          *round // the running round; nil: none
	rounds         uint64 // rounds started, to tell stale page reads
	// last is when the last round that sent events was admitted (a round
	// that finds nothing to send gives its slot back: prev).
	last, prev time.Time
	inflight   bool              // the last round sent events the peer has not acknowledged
	more       bool              // that round stopped at its budget
	sentTop    map[string]uint64 // per origin, the last seq it sent
	progress   time.Time         // when the peer's digest last advanced through it
	position   uint64            // how far through it that digest was

	timer *time.Timer // wakes a deferred digest (resendDue)
	gen   uint64      // the current timer's generation
}

// round is one resend round: for every origin but the peer's own, the
// stored events after the peer's contiguous prefix, at most ResendBudget.
type round struct {
	id           uint64
	theirs, ours map[string]uint64
	origins      []string
	i            int    // the origin being sent
	from         uint64 // the last seq of origins[i] sent (or the peer's prefix)
	budget       int
	sent         map[string]uint64
}

func (w *peerWorker) onResendRequest(m resendRequest) {
	r := &w.rs
	r.want, r.wantOurs = m.have, m.ours
	now := m.at
	if r.round == nil {
		acked := covers(m.have, r.sentTop)
		if acked {
			r.inflight = false
		} else if pos := position(m.have, r.sentTop); r.inflight && pos > r.position {
			r.progress, r.position = now, pos
		}
		if (r.more && acked) || !now.Before(w.due()) {
			w.startRound(now)
			return
		}
		w.schedule(now)
	}
	w.n.m.suppressed.WithLabelValues(w.id).Inc()
	w.n.log.Debug("resend to peer suppressed: the last round was too recent", "peer", w.id, "from", m.from)
}

func (w *peerWorker) onResendDue(m resendDue) {
	r := &w.rs
	if m.gen != r.gen || r.round != nil || r.want == nil {
		return
	}
	w.answerPending(time.Now())
}

// answerPending starts a round for the pending digest if it is due, or
// schedules a wake-up for when it is.
func (w *peerWorker) answerPending(now time.Time) {
	if w.rs.want == nil || w.rs.round != nil {
		return
	}
	if now.Before(w.due()) {
		w.schedule(now)
		return
	}
	w.startRound(now)
}

// due returns when a round that does not continue the last one may start.
func (w *peerWorker) due() time.Time {
	r := &w.rs
	if r.last.IsZero() {
		return r.last
	}
	due := r.last.Add(w.n.cfg.ResendInterval)
	if lost := r.progress.Add(ackTimeout * w.n.cfg.SyncInterval); r.inflight && lost.After(due) {
		due = lost
	}
	return due
}

// schedule arranges a resendDue for when the pending digest is due; the
// timer's goroutine only sends the message.
func (w *peerWorker) schedule(now time.Time) {
	w.stopTimer()
	gen, e, self := w.rs.gen, w.engine, w.self
	w.rs.timer = time.AfterFunc(w.due().Sub(now), func() { e.Send(self, resendDue{gen: gen}) })
}

func (w *peerWorker) stopTimer() {
	w.rs.gen++
	if w.rs.timer != nil {
		w.rs.timer.Stop()
		w.rs.timer = nil
	}
}

// startRound admits the pending digest and starts its round.
func (w *peerWorker) startRound(now time.Time) {
	r := &w.rs
	w.stopTimer()
	r.prev, r.last = r.last, now
	r.inflight, r.more, r.sentTop = false, false, nil
	r.rounds++
	rd := &round{id: r.rounds, theirs: r.want, ours: r.wantOurs, budget: ResendBudget, sent: map[string]uint64{}}
	r.want, r.wantOurs = nil, nil
	for o, s := range rd.ours {
		if o != w.id && s > rd.theirs[o] {
			rd.origins = append(rd.origins, o)
		}
	}
	slices.Sort(rd.origins)
	if len(rd.origins) > 0 {
		rd.from = rd.theirs[rd.origins[0]]
	}
	r.round = rd
	w.nextPage()
}

// nextOrigin moves the round to its next origin.
func (rd *round) nextOrigin() {
	rd.i++
	if rd.i < len(rd.origins) {
		rd.from = rd.theirs[rd.origins[rd.i]]
	}
}

// nextPage asks for the round's next page, or ends the round when it is
// done or its budget is spent.
func (w *peerWorker) nextPage() {
	rd := w.rs.round
	for rd.i < len(rd.origins) && rd.from >= rd.ours[rd.origins[rd.i]] {
		rd.nextOrigin()
	}
	if rd.i == len(rd.origins) {
		w.endRound(false)
		return
	}
	if rd.budget <= 0 {
		w.endRound(true)
		return
	}
	n, e, self, id := w.n, w.engine, w.self, rd.id
	origin, from, limit := rd.origins[rd.i], rd.from, min(PageSize, rd.budget)
	n.workers.spawn(func() {
		evs, err := n.cfg.Store.EventsFromOrigin(n.ctx, origin, from, limit)
		e.Send(self, pageRead{round: id, events: evs, err: err})
	})
}

func (w *peerWorker) onPage(m pageRead) {
	rd := w.rs.round
	if rd == nil || m.round != rd.id {
		return
	}
	switch {
	case m.err != nil:
		if w.n.ctx.Err() == nil {
			w.n.log.Warn("anti-entropy read failed", "peer", w.id, "origin", rd.origins[rd.i], "err", m.err)
		}
		w.endRound(false)
		return
	case len(m.events) == 0:
		rd.nextOrigin()
	default:
		w.out.send(outMsg{batch: &remote.EventBatch{NodeId: w.n.cfg.NodeID, Events: ToProto(m.events), Resend: true}})
		w.n.m.resent.WithLabelValues(w.id).Add(float64(len(m.events)))
		rd.budget -= len(m.events)
		rd.from = m.events[len(m.events)-1].Seq
		rd.sent[rd.origins[rd.i]] = rd.from
	}
	w.nextPage()
}

// endRound records the running round, which stopped at its budget when
// more (then an empty batch with More set tells the peer to ask again
// once it applied what it got), and answers a digest that waited for it.
func (w *peerWorker) endRound(more bool) {
	r := &w.rs
	rd := r.round
	r.round = nil
	if len(rd.sent) == 0 {
		r.last = r.prev
	} else {
		r.inflight, r.more, r.sentTop = true, more, rd.sent
		r.progress, r.position = time.Now(), position(rd.theirs, rd.sent)
	}
	if more {
		w.out.send(outMsg{batch: &remote.EventBatch{NodeId: w.n.cfg.NodeID, Resend: true, More: true}})
	}
	w.answerPending(time.Now())
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
