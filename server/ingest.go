package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/revocd/revocd/actors/audit"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/revocation"
)

// errDropped marks events a receiver refused (forged, unsigned, unknown
// key, malformed, replayed); they are counted and never applied.
var errDropped = errors.New("server: event dropped")

// trustConfigured adds EVENT_TRUSTED_KEYS to v.
func trustConfigured(v *eventsig.Verifier, spec string) error {
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
		case strings.HasPrefix(part, "@"):
			b, err := os.ReadFile(part[1:])
			if err != nil {
				return fmt.Errorf("server: EVENT_TRUSTED_KEYS: %w", err)
			}
			if err := v.TrustJSON(b); err != nil {
				return fmt.Errorf("server: EVENT_TRUSTED_KEYS %s: %w", part[1:], err)
			}
		default:
			id, b64, _ := strings.Cut(part, "=")
			pub, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return fmt.Errorf("server: EVENT_TRUSTED_KEYS key %s: %w", id, err)
			}
			if err := v.Trust(id, pub); err != nil {
				return fmt.Errorf("server: EVENT_TRUSTED_KEYS key %s: %w", id, err)
			}
		}
	}
	return nil
}

// intake is the receive path shared by the Kafka consumer and the cluster:
// validate, verify the signature against trusted keys, drop replays, then
// commit through the audit writer (which applies to the index).
//
// A replay is decided against what is durable: the replay guard is asked
// before the commit but an event id is recorded in it only after the audit
// writer acknowledged the commit. An event whose commit failed is therefore
// taken again, not dropped as a replay, when it is delivered again (a
// Kafka redelivery, a peer's resend); the audit writer ignores duplicate
// event ids, so two concurrent deliveries of one event are harmless.
type intake struct {
	index    *index.Index
	origin   string
	verifier *eventsig.Verifier
	replay   *eventsig.ReplayGuard
	engine   *actor.Engine
	audit    *actor.PID
	dropped  *prometheus.CounterVec
	received *prometheus.CounterVec
}

func newIntake(ix *index.Index, origin string, v *eventsig.Verifier, replay *eventsig.ReplayGuard, e *actor.Engine, auditPID *actor.PID, reg *prometheus.Registry) *intake {
	in := &intake{
		index: ix, origin: origin, verifier: v, replay: replay, engine: e, audit: auditPID,
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revocd_events_dropped_total", Help: "Received revocation events dropped, by source and reason.",
		}, []string{"source", "reason"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revocd_events_received_total", Help: "Received revocation events accepted, by source.",
		}, []string{"source"}),
	}
	reg.MustRegister(in.dropped, in.received)
	return in
}

// Ingest verifies and commits events from source ("kafka", "peer:<id>").
// Events of this node's own origin are skipped (already applied). It returns
// nil once every accepted event is durable; an error wrapping errDropped if
// some event was refused (the others are durable); any other error if the
// commit failed, in which case nothing of the call is known to be durable
// and nothing was recorded as seen: the caller retries (the Kafka handler)
// or the events come again (anti-entropy), and are then accepted.
func (in *intake) Ingest(ctx context.Context, events []revocation.Event, source string) error {
	ok := make([]revocation.Event, 0, len(events))
	var dropErr error
	var batchIDs map[string]struct{} // duplicates inside this delivery
	if len(events) > 1 {
		batchIDs = make(map[string]struct{}, len(events))
	}
	for i := range events {
		e := &events[i]
		if e.Origin == in.origin {
			continue
		}
		reason := ""
		if err := e.Validate(); err != nil {
			reason = "malformed"
		} else if err := in.verifier.Verify(e); err != nil {
			switch {
			case errors.Is(err, eventsig.ErrUnsigned):
				reason = "unsigned"
			case errors.Is(err, eventsig.ErrUnknownKey):
				reason = "unknown_key"
			default:
				reason = "bad_signature"
			}
		} else if in.replay.Seen(e.EventID) {
			// Seen only checks: ids are recorded after the commit below.
			reason = "replay"
		} else if _, dup := batchIDs[e.EventID]; dup {
			reason = "replay"
		}
		if reason != "" {
			in.dropped.WithLabelValues(sourceLabel(source), reason).Inc()
			dropErr = fmt.Errorf("%w: %s event %s from %s", errDropped, reason, e.EventID, source)
			continue
		}
		if batchIDs != nil {
			batchIDs[e.EventID] = struct{}{}
		}
		ok = append(ok, *e)
	}
	if len(ok) > 0 {
		// Verified events are enforced at once, before the audit commit:
		// applying a revocation only ever makes tokens more revoked, and
		// an event lost by a crash or a failed commit comes back through
		// anti-entropy or the Kafka offset (committed only after this
		// returns nil or errDropped).
		for i := range ok {
			audit.ApplyEvent(in.index, &ok[i])
		}
		res, err := in.engine.Request(in.audit, &audit.ApplyRemote{Events: ok}, 30*time.Second).Result()
		if err != nil {
			return fmt.Errorf("server: ingest: %w", err)
		}
		r, _ := res.(*audit.Result)
		if r == nil {
			return fmt.Errorf("server: ingest: unexpected audit reply %T", res)
		}
		if r.Err != nil {
			return fmt.Errorf("server: ingest: %w", r.Err)
		}
		// Durable now (or already was: the audit log ignores duplicates).
		for i := range ok {
			in.replay.Record(ok[i].EventID)
		}
		in.received.WithLabelValues(sourceLabel(source)).Add(float64(len(ok)))
	}
	return dropErr
}

func sourceLabel(source string) string {
	if strings.HasPrefix(source, "peer:") {
		return "peer"
	}
	return source
}
