package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/revocd/revocd/config"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/internal/backoff"
	"github.com/revocd/revocd/persistence/redismirror"
	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/kafka"
)

// Consume runs the seed's consumer service (`revocd consume`): it reads the
// revocation topic, verifies every event's ML-DSA-65 signature against
// EVENT_TRUSTED_KEYS and the keys the nodes announce under CLUSTER_SECRET
// (revocd-node-key headers), drops forged, unsigned and replayed events, and writes
// the seed's Redis keys (revoked:jti|sub|kid:...) into REDIS_URL for services
// that read Redis directly. It runs until ctx ends.
func Consume(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	if cfg.KafkaBootstrap == "" {
		return errors.New("consume: KAFKA_BOOTSTRAP is not set")
	}
	if cfg.RedisURL == "" {
		return errors.New("consume: REDIS_URL is not set")
	}
	secret, err := consumeSecret(cfg)
	if err != nil {
		return err
	}
	verifier := eventsig.NewVerifier()
	if err := trustConfigured(verifier, cfg.EventTrustedKeys); err != nil {
		return err
	}
	var onAnnouncement func(origin string, sealed []byte) error
	if secret != nil {
		// The nodes' own key announcements (revocd-node-key headers),
		// each trusted for its origin only, as a node does.
		trust := eventsig.NewAnnouncementTrust(secret, verifier, "")
		onAnnouncement = func(origin string, sealed []byte) error {
			a, fresh, err := trust.Accept(sealed, func(nodeID string) bool { return nodeID == origin })
			if fresh {
				log.Info("consume: trusting event key announced on Kafka", "node", a.NodeID, "key_id", a.KeyID)
			}
			return err
		}
	}
	opts, err := redismirror.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("consume: REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	mirror := redismirror.New(rdb, nil)
	brokers, err := kafka.ParseBrokers(cfg.KafkaBootstrap)
	if err != nil {
		return fmt.Errorf("consume: KAFKA_BOOTSTRAP: %w", err)
	}
	h := &consumeHandler{verifier: verifier, replay: eventsig.NewReplayGuard(cfg.NonceTTL, nil), mirror: mirror, log: log, retry: consumeRetry}
	consumer, err := kafka.NewConsumer(kafka.Config{
		Brokers: brokers, RevocationTopic: cfg.KafkaTopic, TokenTopic: cfg.RefreshTokenTopic,
		GroupID: "revocd-consume-" + cfg.NodeID, ClientID: "revocd-consume-" + cfg.NodeID, Logger: log.With("component", "kafka"),
		OnAnnouncement: onAnnouncement,
	}, h.handle)
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	log.Info("consume: reading revocations", "topic", cfg.KafkaTopic, "redis", opts.Addr)
	err = consumer.Run(ctx)
	log.Info("consume: stopped", "applied", h.applied.Load(), "dropped", h.dropped.Load(), "skipped", h.skipped.Load())
	return err
}

// consumeSecret returns the cluster secret `revocd consume` trusts key
// announcements under: CLUSTER_SECRET, or the public dev secret with --dev;
// nil when only EVENT_TRUSTED_KEYS is trusted. With neither it refuses to
// start (every event would be dropped as unverifiable), and outside --dev
// it refuses the public dev secret (anyone could announce keys).
func consumeSecret(cfg *config.Config) ([]byte, error) {
	secret := cfg.ClusterSecret
	switch {
	case secret == config.DevClusterSecret && !cfg.Dev:
		return nil, config.Errorf("CLUSTER_SECRET", "CLUSTER_SECRET is the public --dev value; set the nodes' CLUSTER_SECRET")
	case secret == "" && cfg.Dev:
		secret = config.DevClusterSecret
	case secret == "" && cfg.EventTrustedKeys == "":
		return nil, config.Errorf("CLUSTER_SECRET", "consume: no way to trust the nodes' events, so every event would be dropped: set CLUSTER_SECRET to the nodes' value (or EVENT_TRUSTED_KEYS to the producers' keys, see `revocd event-key`)")
	}
	if secret == "" {
		return nil, nil
	}
	return []byte(secret), nil
}

// consumeRetry paces `revocd consume`'s Redis write retries.
var consumeRetry = backoff.Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2}

// consumeHandler is the Kafka handler of `revocd consume`. It is called
// from the consumer's goroutine only; the counters may be read concurrently.
type consumeHandler struct {
	verifier *eventsig.Verifier
	replay   *eventsig.ReplayGuard
	mirror   *redismirror.Mirror
	log      *slog.Logger
	// retry paces the Redis write retries (the zero Policy: 100 ms
	// doubling up to 5 s).
	retry backoff.Policy

	applied, dropped atomic.Int64
	// skipped counts replicated-state events (key_state, refresh_state):
	// cluster state with no Redis key, committed past without a write.
	skipped atomic.Int64
}

// handle verifies e and writes it to Redis. It returns nil once the event
// is in Redis (or was already: a replay), an error for an event it refuses
// (the consumer commits past both), and an error wrapping ctx's error if
// ctx ended while the Redis write was failing (the consumer does not commit
// it: the event is delivered again after a restart).
//
// The receive rule is the node's (eventsig.Screen, as in actors/intake);
// only the commit differs: a Redis write instead of the audit log.
func (h *consumeHandler) handle(ctx context.Context, e *revocation.Event) error {
	if e.Type.IsState() {
		h.skipped.Add(1)
		return nil
	}
	accepted, refused := eventsig.Screen(h.verifier, h.replay, []revocation.Event{*e})
	if len(refused) > 0 {
		h.dropped.Add(1)
		r := refused[0]
		if r.Reason == eventsig.DropReplay {
			// Already written: the id is recorded only after the write
			// succeeded, so an event whose write failed is written when
			// it comes again.
			return nil
		}
		h.log.Warn("consume: dropped event", "event_id", e.EventID, "origin", e.Origin, "reason", r.Reason, "err", r.Err)
		return fmt.Errorf("consume: drop event %s (%s): %w", e.EventID, r.Reason, r.Err)
	}
	// Retry Redis writes until they succeed or we are stopped.
	return backoff.Retry(ctx, h.retry, func(ctx context.Context, attempt int) (bool, error) {
		err := h.mirror.Deliver(ctx, accepted)
		switch {
		case err == nil:
			h.replay.Record(e.EventID)
			h.applied.Add(1)
			return true, nil
		case errors.Is(err, redismirror.ErrInvalidEvent):
			h.dropped.Add(1)
			return true, err
		case ctx.Err() != nil:
			return false, err
		}
		h.log.Warn("consume: redis write failed; retrying", "err", err, "attempt", attempt)
		return false, err
	})
}
