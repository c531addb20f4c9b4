// Package intake is the receive actor of a node: every revocation event
// that reaches the node from elsewhere (its Kafka consumer, its cluster
// peers) passes through it, one typed Ingest command per delivery.
//
// For each delivery the actor starts a goroutine (the work is CPU-bound
// signature checking, so deliveries from different sources are verified in
// parallel) which skips the node's own events, screens the rest with
// eventsig.Screen (well formed, signed under a trusted key, not a replay of
// an event already durable here), applies the accepted events to the index
// at once and reports back with a message keyed by the delivery's id, under
// which the actor keeps the requester. The actor then commits the accepted
// events with a plain send of an audit.ApplyRemote carrying that id in its
// Ref; the audit writer answers the actor with an *audit.Result echoing it
// (deliveries share a group commit), and a self-sent timer message ends the
// wait after CommitTimeout. The actor alone records ids in the replay
// guard, only once the writer acknowledged the commit, counts the outcome
// and answers the requester with *Ingested: an answer without Err means
// durable. The actor never waits inside Receive.
//
// A replay is thus decided against what is durable: an event whose commit
// failed is taken again, not dropped as a replay, when it comes again (a
// Kafka redelivery, a peer's resend). Two concurrent deliveries of one
// event may both be committed; the audit writer ignores the duplicate.
//
// Counters: revocd_events_received_total{source} (accepted events made
// durable) and revocd_events_dropped_total{source,reason} (reason is an
// eventsig.DropReason); source is "kafka" or "peer".
package intake

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/revocd/revocd/actors/audit"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/revocation"
)

// Errors of the intake.
var (
	// ErrDropped marks a delivery of which some events were refused
	// (forged, unsigned, unknown key, malformed, replayed): they are
	// counted and never applied. Refused events are final: retrying the
	// delivery does not change the outcome.
	ErrDropped = errors.New("intake: event dropped")
	// ErrCommit marks a delivery whose commit failed or was not
	// acknowledged in time: nothing of it is known to be durable and
	// nothing was recorded as seen, so the delivery may be retried.
	ErrCommit = errors.New("intake: commit failed")
	// ErrStopped marks a delivery in flight when the intake stopped.
	ErrStopped = errors.New("intake: stopped")
	// ErrOptions reports invalid Options.
	ErrOptions = errors.New("intake: invalid options")
)

// DefaultCommitTimeout bounds the wait for the audit writer's reply.
const DefaultCommitTimeout = 30 * time.Second

// Ingest asks the intake to verify and commit events received from Source
// ("kafka", or "peer:<id>" for a cluster peer). The reply, sent to the
// sender (use Engine.Request or Client), is *Ingested.
type Ingest struct {
	Events []revocation.Event
	Source string
}

// Ingested is the reply to Ingest.
type Ingested struct {
	// Applied is the number of events accepted and now durable (0 if Err
	// is set).
	Applied int
	// Own is the number of this node's own events, skipped (already
	// applied and stored here).
	Own int
	// Dropped counts the refused events by reason; nil if none.
	Dropped map[eventsig.DropReason]int
	// Err, if set, wraps ErrCommit or ErrStopped: the accepted events
	// were applied to the index but are not known to be durable.
	Err error
}

// DroppedTotal is the number of refused events.
func (r *Ingested) DroppedTotal() int {
	n := 0
	for _, c := range r.Dropped {
		n += c
	}
	return n
}

// AsError folds the reply into one error: Err if the commit failed, else
// an error wrapping ErrDropped if some event was refused, else nil (every
// event is durable or was this node's own).
func (r *Ingested) AsError() error {
	if r.Err != nil {
		return r.Err
	}
	if len(r.Dropped) > 0 {
		parts := make([]string, 0, len(r.Dropped))
		for reason, n := range r.Dropped {
			parts = append(parts, fmt.Sprintf("%d %s", n, reason))
		}
		slices.Sort(parts)
		reasons := make([]string, 0, len(r.Dropped))
		for reason := range r.Dropped {
			reasons = append(reasons, string(reason))
		}
		slices.Sort(reasons)
		return &DroppedError{reasons: reasons, msg: strings.Join(parts, ", "), Applied: r.Applied}
	}
	return nil
}

// DroppedError is AsError's error when events were refused: it wraps
// ErrDropped and names the drop reasons, so that a source (a cluster peer)
// can report why its events are refused.
type DroppedError struct {
	reasons []string
	msg     string
	// Applied is the number of the call's other events made durable.
	Applied int
}

// Error implements error.
func (e *DroppedError) Error() string { return ErrDropped.Error() + ": " + e.msg }

// Unwrap returns ErrDropped.
func (e *DroppedError) Unwrap() error { return ErrDropped }

// Reasons returns the distinct drop reasons (eventsig.DropReason values),
// sorted.
func (e *DroppedError) Reasons() []string { return slices.Clone(e.reasons) }

// Options configures the intake actor. Origin, Verifier, Replay, Index,
// Audit and Registerer are required.
type Options struct {
	// Origin is this node's id: events of this origin are skipped.
	Origin string
	// Verifier holds the trusted event keys (EVENT_TRUSTED_KEYS and the
	// node's own).
	Verifier *eventsig.Verifier
	// Replay remembers the ids of events made durable (NONCE_TTL_SECONDS).
	Replay *eventsig.ReplayGuard
	// Index receives accepted events at once, before their commit:
	// applying a revocation only ever makes tokens more revoked, and an
	// event whose commit failed comes again.
	Index *index.Index
	// Audit is the audit writer, which commits accepted events
	// (audit.ApplyRemote).
	Audit *actor.PID
	// Registerer receives the intake's counters.
	Registerer prometheus.Registerer
	// CommitTimeout bounds the wait for the audit writer's reply
	// (DefaultCommitTimeout if zero).
	CommitTimeout time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (o *Options) validate() error {
	switch {
	case o.Origin == "":
		return fmt.Errorf("%w: Origin is empty", ErrOptions)
	case o.Verifier == nil || o.Replay == nil || o.Index == nil || o.Audit == nil || o.Registerer == nil:
		return fmt.Errorf("%w: Verifier, Replay, Index, Audit and Registerer are required", ErrOptions)
	case o.CommitTimeout < 0:
		return fmt.Errorf("%w: negative CommitTimeout", ErrOptions)
	}
	if o.CommitTimeout == 0 {
		o.CommitTimeout = DefaultCommitTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// metrics are the intake's counters, registered once by New.
type metrics struct {
	dropped  *prometheus.CounterVec
	received *prometheus.CounterVec
}

// New validates o, registers the intake's counters with o.Registerer and
// returns the actor's producer. Spawn it once per node.
func New(o Options) (actor.Producer, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	m := &metrics{
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revocd_events_dropped_total", Help: "Received revocation events dropped, by source and reason.",
		}, []string{"source", "reason"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revocd_events_received_total", Help: "Received revocation events accepted, by source.",
		}, []string{"source"}),
	}
	for _, c := range []prometheus.Collector{m.dropped, m.received} {
		if err := o.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("intake: register metrics: %w", err)
		}
	}
	return func() actor.Receiver {
		return &intake{opts: o, m: m, inflight: map[uint64]*delivery{}}
	}, nil
}

// screened reports the screening of delivery id, done off the actor's
// goroutine: the node's own events skipped, the accepted events (already
// applied to the index) and the refused ones.
type screened struct {
	id       uint64
	own      int
	accepted []revocation.Event
	refused  []eventsig.Refused
}

// commitTimeout tells the actor that delivery id's commit was sent
// CommitTimeout ago (a self-sent timer message; stale if the delivery was
// answered meanwhile).
type commitTimeout struct{ id uint64 }

// delivery is an Ingest being processed: screened, then committed.
type delivery struct {
	to     *actor.PID
	source string
	// screened is set once the screening reported; the commit of its
	// accepted events is then awaited.
	screened *screened
	timer    *time.Timer // the commit timeout; nil until the commit is sent
}

type intake struct {
	opts     Options
	m        *metrics
	next     uint64
	inflight map[uint64]*delivery
}

// Receive implements actor.Receiver.
func (in *intake) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case *Ingest:
		in.ingest(c, m)
	case screened:
		in.screened(c, m)
	case *audit.Result:
		in.committed(c, m.ID, commitError(m))
	case commitTimeout:
		if d := in.inflight[m.id]; d != nil && d.screened != nil {
			in.committed(c, m.id, fmt.Errorf("%w: the audit writer did not answer within %v", ErrCommit, in.opts.CommitTimeout))
		}
	case actor.Stopped:
		for id, d := range in.inflight {
			if d.timer != nil {
				d.timer.Stop()
			}
			respond(c, d.to, &Ingested{Err: fmt.Errorf("%w: the events from %s are not known to be durable", ErrStopped, d.source)})
			delete(in.inflight, id)
		}
	}
}

// ingest starts processing a delivery. The screening (signature checks,
// CPU-bound) and the index updates run on a goroutine that reports back
// with a screened message, so deliveries from different sources are
// verified in parallel; the commit is then a plain send to the audit
// writer, answered to this actor with an *audit.Result carrying the
// delivery's id. The intake never waits inside Receive.
func (in *intake) ingest(c *actor.Context, m *Ingest) {
	in.next++
	id := in.next
	in.inflight[id] = &delivery{to: c.Sender(), source: m.Source}
	o, self, engine := in.opts, c.PID(), c.Engine()
	go func() { engine.Send(self, screen(&o, id, m.Events)) }()
}

// screen skips the node's own events, screens the rest and applies the
// accepted ones to the index. It runs off the actor's goroutine and
// touches no actor state: it records nothing in the replay guard (the
// actor does, once the commit is acknowledged).
func screen(o *Options, id uint64, events []revocation.Event) screened {
	out := screened{id: id}
	foreign := make([]revocation.Event, 0, len(events))
	for _, e := range events {
		if e.Origin == o.Origin {
			out.own++
			continue
		}
		foreign = append(foreign, e)
	}
	out.accepted, out.refused = eventsig.Screen(o.Verifier, o.Replay, foreign)
	// Verified events are enforced at once, before the audit commit:
	// applying a revocation only ever makes tokens more revoked, and an
	// event whose commit failed comes again.
	for i := range out.accepted {
		audit.ApplyEvent(o.Index, &out.accepted[i])
	}
	return out
}

// screened commits a screened delivery's accepted events: it sends the
// audit writer an ApplyRemote carrying the delivery's id and arms the
// commit timeout. A delivery with nothing to commit is answered at once.
func (in *intake) screened(c *actor.Context, m screened) {
	d := in.inflight[m.id]
	if d == nil {
		return
	}
	d.screened = &m
	if len(m.accepted) == 0 {
		in.committed(c, m.id, nil)
		return
	}
	c.Send(in.opts.Audit, &audit.ApplyRemote{Ref: audit.Ref{ID: m.id}, Events: m.accepted})
	self, engine, id := c.PID(), c.Engine(), m.id
	d.timer = time.AfterFunc(in.opts.CommitTimeout, func() { engine.Send(self, commitTimeout{id: id}) })
}

// commitError interprets the audit writer's reply to ApplyRemote.
func commitError(r *audit.Result) error {
	if r.Err != nil {
		return fmt.Errorf("%w: %w", ErrCommit, r.Err)
	}
	return nil
}

// committed ends delivery id once its commit is answered (err nil: the
// accepted events are durable), failed or timed out: it counts the
// outcome, records the ids of the events now durable in the replay guard
// and answers the requester. A late answer (after the timeout) is ignored.
func (in *intake) committed(c *actor.Context, id uint64, err error) {
	d := in.inflight[id]
	if d == nil || d.screened == nil {
		return
	}
	delete(in.inflight, id)
	if d.timer != nil {
		d.timer.Stop()
	}
	m := d.screened
	label := sourceLabel(d.source)
	reply := &Ingested{Own: m.own, Err: err}
	for _, r := range m.refused {
		if reply.Dropped == nil {
			reply.Dropped = map[eventsig.DropReason]int{}
		}
		reply.Dropped[r.Reason]++
		in.m.dropped.WithLabelValues(label, string(r.Reason)).Inc()
		// Debug only: whoever can reach the node could flood the log.
		in.opts.Logger.Debug("intake: dropped event", "source", d.source, "event_id", r.EventID, "reason", r.Reason, "err", r.Err)
	}
	if err == nil && len(m.accepted) > 0 {
		// Durable now (or already was: the audit log ignores duplicates).
		for i := range m.accepted {
			in.opts.Replay.Record(m.accepted[i].EventID)
		}
		reply.Applied = len(m.accepted)
		in.m.received.WithLabelValues(label).Add(float64(len(m.accepted)))
	}
	respond(c, d.to, reply)
}

func respond(c *actor.Context, to *actor.PID, r *Ingested) {
	if to != nil {
		c.Engine().Send(to, r)
	}
}

// sourceLabel is the metric label of a source: "peer:<id>" counts as
// "peer" (peer ids would make the label unbounded).
func sourceLabel(source string) string {
	if strings.HasPrefix(source, "peer:") {
		return "peer"
	}
	return source
}
