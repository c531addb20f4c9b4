package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/revocd/revocd/actors/msg"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/internal/backoff"
	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/kafka"
)

// Mixed fleets (KAFKA_ACCEPT_UNSIGNED_EVENTS): seed-era producers publish
// unsigned revocations to the topic. A node that accepts them reads the
// topic a second time in a consumer group shared by every accepting node
// (unsignedGroup), so Kafka hands each seed record to one node only; that
// node commits it as its own revocation (reason "unsigned-kafka"), which
// from then on is a signed event like any other: published to the topic,
// sent to peers and enforced by every node exactly once. The node's own
// consumer skips seed records (they are not dropped as unsigned then).

// unsignedReason is the Reason of a revocation committed from a seed record.
const unsignedReason = "unsigned-kafka"

// unsignedGroup is the consumer group shared by the accepting nodes.
func unsignedGroup(topic string) string { return "revocd-unsigned-" + topic }

// unsignedDeps are what the unsigned intake needs from the node.
type unsignedDeps struct {
	Brokers     string
	Topic       string
	TokenTopic  string
	NodeID      string
	Engine      *actor.Engine
	Revoker     *actor.PID
	MaxLifetime time.Duration
	NonceTTL    time.Duration
	Registry    prometheus.Registerer
	Log         *slog.Logger
}

// unsignedIntake commits seed records as this node's revocations.
type unsignedIntake struct {
	d        unsignedDeps
	guard    *eventsig.ReplayGuard
	accepted prometheus.Counter
}

// startUnsigned starts the shared-group consumer of seed records; it runs
// until ctx ends. It logs at WARN what it allows, on every start.
func startUnsigned(ctx context.Context, d unsignedDeps) error {
	d.Log.Warn("KAFKA_ACCEPT_UNSIGNED_EVENTS=true: unsigned seed-era revocation records on the topic are applied "+
		"(revoke_jti, revoke_sub, revoke_kid only; each committed once, by one node, as its own signed revocation): "+
		"anyone who can write to the topic can revoke tokens. Keep it only while seed-era producers still publish; "+
		"set it to false once every producer is revocd (or signs with a key in EVENT_TRUSTED_KEYS)",
		"topic", d.Topic, "group", unsignedGroup(d.Topic))
	u := &unsignedIntake{
		d: d, guard: eventsig.NewReplayGuard(d.NonceTTL, nil),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "revocd_events_unsigned_accepted_total",
			Help: "Seed-era unsigned revocation records committed by this node (KAFKA_ACCEPT_UNSIGNED_EVENTS).",
		}),
	}
	if err := d.Registry.Register(u.accepted); err != nil {
		return fmt.Errorf("server: unsigned events metric: %w", err)
	}
	brokers, err := kafka.ParseBrokers(d.Brokers)
	if err != nil {
		return fmt.Errorf("server: KAFKA_BOOTSTRAP: %w", err)
	}
	c, err := kafka.NewConsumer(kafka.Config{
		Brokers: brokers, RevocationTopic: d.Topic, TokenTopic: d.TokenTopic,
		GroupID: unsignedGroup(d.Topic), ClientID: "revocd-unsigned-" + d.NodeID, Logger: d.Log.With("component", "kafka-unsigned"),
		UnsignedOnly: true, Unsigned: u.handle,
	}, func(context.Context, *revocation.Event) error { return nil })
	if err != nil {
		return fmt.Errorf("server: unsigned events consumer: %w", err)
	}
	go func() {
		if err := c.Run(ctx); err != nil {
			d.Log.Error("kafka: unsigned events consumer stopped", "err", err)
		}
	}()
	return nil
}

// handle commits one seed record through the revocation actor, as a local
// POST /revoke would (lifetime bounded the same way), retrying a failed
// commit until it is durable or ctx ends: the offset is committed only
// after. A seed id seen within NONCE_TTL_SECONDS is a replay and skipped.
func (u *unsignedIntake) handle(ctx context.Context, se *kafka.SeedEvent) error {
	if u.guard.Seen(se.ID) {
		u.d.Log.Debug("kafka: unsigned record replayed; skipping", "id", se.ID)
		return nil
	}
	var ttl time.Duration
	if !se.ExpiresAt.IsZero() {
		ttl = time.Until(se.ExpiresAt)
		if ttl <= 0 {
			return fmt.Errorf("expired at %s", se.ExpiresAt.UTC().Format(time.RFC3339))
		}
		ttl = min(ttl, u.d.MaxLifetime)
	}
	reason := unsignedReason
	if se.Reason != "" {
		reason += ": " + se.Reason
		if len(reason) > revocation.MaxReasonLen {
			reason = reason[:revocation.MaxReasonLen]
		}
	}
	m := &msg.Revoke{Type: se.Type, Value: se.Value, TTL: ttl, Reason: reason}
	return backoff.Retry(ctx, kafkaRetry, func(ctx context.Context, attempt int) (bool, error) {
		v, err := u.d.Engine.Request(u.d.Revoker, m, 30*time.Second).Result()
		if err == nil {
			switch r := v.(type) {
			case *msg.Revoked:
				u.guard.Record(se.ID)
				u.accepted.Inc()
				u.d.Log.Info("kafka: unsigned seed-era revocation committed", "id", se.ID, "type", se.Type, "event_id", r.Event.EventID)
				return true, nil
			case *msg.Failed:
				err = r.Err
			default:
				err = fmt.Errorf("unexpected answer %T", v)
			}
		}
		if ctx.Err() != nil {
			return false, errors.Join(ctx.Err(), err)
		}
		u.d.Log.Warn("kafka: unsigned record: commit failed; retrying", "id", se.ID, "err", err, "attempt", attempt)
		return false, err
	})
}
