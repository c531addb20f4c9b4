// Package intake is the receive actor of a node: every revocation event
// that reaches the node from elsewhere (its Kafka consumer, its cluster
// peers) passes through it, one typed Ingest command per delivery.
//
// For each delivery the actor starts a goroutine (the work is CPU-bound
// signature checking and a wait for the audit writer, so deliveries from
// different sources proceed in parallel and share a group commit) which
// skips the node's own events, screens the rest with eventsig.Screen (well
// formed, signed under a trusted key, not a replay of an event already
// durable here), applies the accepted events to the index at once, and
// commits them by sending the audit writer an audit.ApplyRemote. It
// reports back to the actor with a message keyed by the delivery's id,
// under which the actor keeps the requester. The actor alone records ids
// in the replay guard, only once the writer acknowledged the commit, counts
// the outcome and answers the requester with *Ingested: an answer without
// Err means durable. The actor never waits inside Receive.
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
		return fmt.Errorf("%w: %s", ErrDropped, strings.Join(parts, ", "))
	}
	return nil
}

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

// processed reports the work done for delivery id off the actor's
// goroutine: the screening, and the commit of the accepted events (err
// set if it failed or was not acknowledged in time).
type processed struct {
	id       uint64
	own      int
	accepted []revocation.Event
	refused  []eventsig.Refused
	err      error
}

// delivery is an Ingest being processed.
type delivery struct {
	to     *actor.PID
	source string
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
	case processed:
		in.processed(c, m)
	case actor.Stopped:
		for id, d := range in.inflight {
			respond(c, d.to, &Ingested{Err: fmt.Errorf("%w: the events from %s are not known to be durable", ErrStopped, d.source)})
			delete(in.inflight, id)
		}
	}
}

// ingest starts processing a delivery. The work (signature checks, the
// index, the commit) runs on a goroutine that reports back with a
// processed message: deliveries from different sources are verified in
// parallel and share a group commit, and the intake never waits on the
// audit writer inside Receive.
func (in *intake) ingest(c *actor.Context, m *Ingest) {
	in.next++
	id := in.next
	in.inflight[id] = &delivery{to: c.Sender(), source: m.Source}
	o, self, engine := in.opts, c.PID(), c.Engine()
	go func() { engine.Send(self, process(engine, &o, id, m.Events)) }()
}

// process screens events, applies the accepted ones to the index and
// commits them through the audit writer, waiting at most CommitTimeout
// for its reply. It runs off the actor's goroutine and touches no actor
// state: it records nothing in the replay guard (the actor does, once the
// commit is acknowledged).
func process(engine *actor.Engine, o *Options, id uint64, events []revocation.Event) processed {
	out := processed{id: id}
	foreign := make([]revocation.Event, 0, len(events))
	for _, e := range events {
		if e.Origin == o.Origin {
			out.own++
			continue
		}
		foreign = append(foreign, e)
	}
	out.accepted, out.refused = eventsig.Screen(o.Verifier, o.Replay, foreign)
	if len(out.accepted) == 0 {
		return out
	}
	// Verified events are enforced at once, before the audit commit:
	// applying a revocation only ever makes tokens more revoked, and an
	// event whose commit failed comes again.
	for i := range out.accepted {
		audit.ApplyEvent(o.Index, &out.accepted[i])
	}
	res, err := engine.Request(o.Audit, &audit.ApplyRemote{Events: out.accepted}, o.CommitTimeout).Result()
	out.err = commitError(res, err)
	return out
}

// commitError interprets the audit writer's reply to ApplyRemote.
func commitError(res any, err error) error {
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCommit, err)
	}
	r, ok := res.(*audit.Result)
	if !ok {
		return fmt.Errorf("%w: unexpected audit reply %T", ErrCommit, res)
	}
	if r.Err != nil {
		return fmt.Errorf("%w: %w", ErrCommit, r.Err)
	}
	return nil
}

// processed counts a delivery's outcome, records the ids of the events
// now durable in the replay guard and answers the requester.
func (in *intake) processed(c *actor.Context, m processed) {
	d := in.inflight[m.id]
	if d == nil {
		return
	}
	delete(in.inflight, m.id)
	label := sourceLabel(d.source)
	reply := &Ingested{Own: m.own, Err: m.err}
	for _, r := range m.refused {
		if reply.Dropped == nil {
			reply.Dropped = map[eventsig.DropReason]int{}
		}
		reply.Dropped[r.Reason]++
		in.m.dropped.WithLabelValues(label, string(r.Reason)).Inc()
		// Debug only: whoever can reach the node could flood the log.
		in.opts.Logger.Debug("intake: dropped event", "source", d.source, "event_id", r.EventID, "reason", r.Reason, "err", r.Err)
	}
	if m.err == nil && len(m.accepted) > 0 {
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
