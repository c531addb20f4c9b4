package cluster

import (
	"bytes"
	"context"
	"time"

	"github.com/revocd/revocd/revocation"
)

// Ingest limits.
const (
	ingestQueue   = 256              // batches of one peer handed to its worker and not yet ingested
	mergeEvents   = 4096             // events merged into one Ingest call
	ingestTimeout = 30 * time.Second // per call
)

// ingestState is a peerWorker's ingest queue: one Ingest call runs at a
// time per peer, with the batches queued while the previous one ran
// merged into it (up to mergeEvents events). Calls for different peers
// run concurrently, so they share a group commit.
type ingestState struct {
	queue  []ingestRequest
	flight []ingestRequest // the batches of the call in flight
	events []revocation.Event
	busy   bool
}

func (w *peerWorker) onIngestRequest(m ingestRequest) {
	w.in.queue = append(w.in.queue, m)
	w.startIngest()
}

// startIngest starts an Ingest call of the queued batches unless one is
// in flight. Batches without events (a resend round's More marker) are
// reported at once, in order.
func (w *peerWorker) startIngest() {
	in := &w.in
	for !in.busy && len(in.queue) > 0 {
		var total int
		n := 0
		for n < len(in.queue) && (n == 0 || total+len(in.queue[n].events) <= mergeEvents) {
			total += len(in.queue[n].events)
			n++
		}
		in.flight = append(in.flight[:0], in.queue[:n]...)
		in.queue = in.queue[n:]
		in.events = make([]revocation.Event, 0, total)
		for _, b := range in.flight {
			in.events = append(in.events, b.events...)
		}
		if total == 0 {
			w.finishIngest(nil)
			continue
		}
		in.busy = true
		n2, events, source, e, self := w.n, in.events, w.source, w.engine, w.self
		n2.workers.spawn(func() {
			ctx, cancel := context.WithTimeout(n2.ctx, ingestTimeout)
			err := n2.cfg.Ingest.Ingest(ctx, events, source)
			cancel()
			e.Send(self, ingestDone{err: err})
		})
	}
}

func (w *peerWorker) onIngestDone(m ingestDone) {
	if !w.in.busy {
		return
	}
	w.in.busy = false
	w.finishIngest(m.err)
	w.startIngest()
}

// finishIngest reports the batches in flight to the replicator.
func (w *peerWorker) finishIngest(err error) {
	in := &w.in
	now := time.Now()
	more := false
	for _, b := range in.flight {
		w.n.m.ingestDelay.Observe(now.Sub(b.at).Seconds())
		more = more || b.more
	}
	w.engine.Send(w.parent, ingested{peer: w.id, events: in.events, batches: len(in.flight), more: more, err: err})
	in.flight, in.events = nil, nil
}

// sameEvent reports whether a and b are the same event in every field,
// signature and state payload included.
func sameEvent(a, b *revocation.Event) bool {
	return a.EventID == b.EventID && a.Type == b.Type && a.Value == b.Value && a.TS == b.TS &&
		a.ExpiresAt == b.ExpiresAt && a.Reason == b.Reason && a.Origin == b.Origin && a.Seq == b.Seq &&
		a.KeyID == b.KeyID && a.Alg == b.Alg && bytes.Equal(a.Sig, b.Sig) && bytes.Equal(a.Data, b.Data)
}
