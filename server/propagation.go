package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/revocd/revocd/actors/audit"
	"github.com/revocd/revocd/actors/intake"
	"github.com/revocd/revocd/actors/outbox"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/internal/backoff"
	"github.com/revocd/revocd/persistence/redismirror"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/kafka"
	"github.com/revocd/revocd/transport/wire"
)

// propagation runs the Redis mirror and the Kafka bridge of a node: one
// outbox actor per destination, the Kafka consumer of other nodes'
// revocations, and the periodic Redis reconcile. Each part is on only when
// its variable (REDIS_URL, KAFKA_BOOTSTRAP) is set.
type propagation struct {
	opts    propagationOptions
	log     *slog.Logger
	engine  *actor.Engine
	redis   *redis.Client
	mirror  *redismirror.Mirror
	pub     *kafka.Publisher
	outbox  map[string]*actor.PID
	prog    map[string]*outbox.Progress
	cancel  context.CancelFunc
	stopped chan struct{}
	// bgDone is closed when close stops the background loops.
	bgDone <-chan struct{}
	// redisLoaded is closed once the index may be marked ready as far as
	// Redis is concerned: at once without REDIS_URL or with
	// REDIS_STARTUP=best-effort, after the first successful load of
	// Redis's revocations with REDIS_STARTUP=require.
	redisLoaded chan struct{}
	// trust reports Kafka events refused for an untrusted origin (nil
	// without Kafka).
	trust *kafkaTrust
	// redisLoadErr is the last failed initial load ("" before the first
	// attempt ends), reported by /ready while redisLoaded is open.
	redisLoadErr atomic.Pointer[string]
}

// Initial Redis load bounds.
const (
	// redisLoadTimeout bounds the synchronous initial load with
	// REDIS_STARTUP=best-effort: a Redis outage delays start-up by at most
	// this much.
	redisLoadTimeout = 5 * time.Second
	// redisRetryTimeout bounds one background attempt with
	// REDIS_STARTUP=require (a large keyspace may take longer to SCAN).
	redisRetryTimeout = time.Minute
)

// Retry schedules.
var (
	// redisLoadRetry paces the background attempts of the initial Redis
	// load (REDIS_STARTUP=require).
	redisLoadRetry = backoff.Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2}
	// kafkaRetry paces the retries of a Kafka event whose commit failed.
	kafkaRetry = backoff.Policy{Initial: 50 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2}
)

// propagationOptions are the settings of the Redis mirror and the Kafka
// bridge, taken from the configuration by Run.
type propagationOptions struct {
	// NodeID (NODE_ID) names the Kafka consumer group and client, and is
	// the origin of published events: the consumer skips its own.
	NodeID string
	// RedisURL (REDIS_URL) turns the Redis mirror on when set.
	RedisURL string
	// RedisStartupRequired (REDIS_STARTUP resolved) holds validation
	// until Redis's revocations are loaded.
	RedisStartupRequired bool
	// RedisSyncInterval (REDIS_SYNC_INTERVAL_SECONDS) paces the reconcile
	// from Redis; 0 turns it off.
	RedisSyncInterval time.Duration
	// KafkaBootstrap (KAFKA_BOOTSTRAP) turns the Kafka bridge on when set.
	KafkaBootstrap string
	// KafkaTopic (KAFKA_TOPIC) carries revocation events, TokenTopic
	// (REFRESH_TOKEN_TOPIC) token audit events.
	KafkaTopic, TokenTopic string
	// AcceptUnsigned (KAFKA_ACCEPT_UNSIGNED_EVENTS): the node's consumer
	// skips seed-era unsigned records, which the shared-group consumer of
	// server/unsigned.go takes; off, they are dropped as unsigned.
	AcceptUnsigned bool
}

type propagationDeps struct {
	Options     propagationOptions
	Engine      *actor.Engine
	Store       *sqlitestore.Store
	Index       *index.Index
	Intake      intake.Client
	MaxLifetime time.Duration
	Log         *slog.Logger
	Registry    *prometheus.Registry
	// Announcements (nil without a cluster secret) puts this node's key
	// announcement on its Kafka records and trusts the ones it reads.
	Announcements *announcements
}

// startPropagation connects to Redis and Kafka as configured, loads Redis's
// revocations into the index and starts the outbox actors.
//
// The initial Redis load follows REDIS_STARTUP. With best-effort the wait
// is bounded (redisLoadTimeout): after a Redis outage the node serves from
// SQLite's revocations, without those that exist only in Redis, and reports
// redis unhealthy in /ready. With require the load runs in the background,
// retried with backoff until it succeeds, and whenRedisLoaded holds the
// index's readiness (so /token/validate answers 503) until then; the HTTP
// listener, /health and /ready are not held back.
func startPropagation(ctx context.Context, d propagationDeps) (*propagation, error) {
	p := &propagation{opts: d.Options, log: d.Log, engine: d.Engine, outbox: map[string]*actor.PID{}, prog: map[string]*outbox.Progress{}, stopped: make(chan struct{}), redisLoaded: make(chan struct{})}
	bg, cancel := context.WithCancel(context.Background())
	p.cancel, p.bgDone = cancel, bg.Done()
	var loops []func()

	if d.Options.RedisURL != "" {
		opts, err := redismirror.ParseURL(d.Options.RedisURL)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("server: REDIS_URL: %w", err)
		}
		opts.MaxRetries = 1
		p.redis = redis.NewClient(opts)
		p.mirror = redismirror.New(p.redis, nil)
		if d.Options.RedisStartupRequired {
			d.Log.Info("redis: loading revocations in the background; /token/validate answers 503 until they are loaded (REDIS_STARTUP=require)")
			loops = append(loops, func() { p.initialLoad(bg, d.Index, d.MaxLifetime) })
		} else {
			lctx, lcancel := context.WithTimeout(ctx, redisLoadTimeout)
			n, err := loadFromRedis(lctx, p.mirror, d.Index, d.MaxLifetime)
			lcancel()
			if err != nil {
				d.Log.Warn("redis: initial load failed; serving without the revocations that exist only in Redis until a reconcile succeeds (REDIS_STARTUP=best-effort)", "err", err)
			} else {
				d.Log.Info("redis: revocations loaded", "entries", n)
			}
			close(p.redisLoaded)
		}
		p.spawnOutbox(d, "redis", p.mirror)
		if d.Options.RedisSyncInterval > 0 {
			loops = append(loops, func() { p.reconcile(bg, d.Index, d.MaxLifetime) })
		}
	}
	if d.Options.RedisURL == "" {
		close(p.redisLoaded)
	}
	if d.Options.KafkaBootstrap != "" {
		brokers, err := kafka.ParseBrokers(d.Options.KafkaBootstrap)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("server: KAFKA_BOOTSTRAP: %w", err)
		}
		kcfg := kafka.Config{
			Brokers: brokers, RevocationTopic: d.Options.KafkaTopic, TokenTopic: d.Options.TokenTopic,
			GroupID: "revocd-" + d.Options.NodeID, ClientID: "revocd-" + d.Options.NodeID, Logger: d.Log.With("component", "kafka"),
			Origin:       d.Options.NodeID, // publish only own events; skip them when consuming
			SkipUnsigned: d.Options.AcceptUnsigned,
		}
		if a := d.Announcements; a != nil {
			kcfg.Announcement, kcfg.OnAnnouncement = a.sealed, a.kafkaAnnouncement
		}
		p.trust = newKafkaTrust(d.Log, d.Announcements != nil)
		ectx, ecancel := context.WithTimeout(ctx, 5*time.Second)
		if err := kafka.EnsureTopics(ectx, kcfg, 1); err != nil {
			d.Log.Warn("kafka: could not ensure topics; will publish when the brokers answer", "err", err)
		}
		ecancel()
		if p.pub, err = kafka.NewPublisher(kcfg); err != nil {
			cancel()
			return nil, fmt.Errorf("server: kafka publisher: %w", err)
		}
		p.spawnOutbox(d, "kafka", p.pub)
		// The handler returns once the event is durable or refused, and
		// retries a failed commit meanwhile: no offset is committed
		// before its event is durable (see intake.Client.Handler).
		consumer, err := kafka.NewConsumer(kcfg, p.trust.wrap(d.Intake.Handler("kafka", kafkaRetry, d.Log)))
		if err != nil {
			cancel()
			return nil, fmt.Errorf("server: kafka consumer: %w", err)
		}
		loops = append(loops, func() {
			if err := consumer.Run(bg); err != nil {
				d.Log.Error("kafka: consumer stopped", "err", err)
			}
		})
	}
	done := make(chan struct{}, len(loops))
	for _, l := range loops {
		go func() { l(); done <- struct{}{} }()
	}
	go func() {
		for range loops {
			<-done
		}
		close(p.stopped)
	}()
	return p, nil
}

func (p *propagation) spawnOutbox(d propagationDeps, name string, sink outbox.Sink) {
	prog := &outbox.Progress{}
	p.prog[name] = prog
	d.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "revocd_outbox_backlog", Help: "Committed revocation events not yet acknowledged by a destination.",
		ConstLabels: prometheus.Labels{"dest": name},
	}, func() float64 { return float64(prog.Backlog()) }))
	p.outbox[name] = d.Engine.Spawn(outbox.New(outbox.Config{
		Name: name, Store: d.Store, Sink: sink, Progress: prog, Logger: d.Log.With("outbox", name),
	}), "outbox", actor.WithID(name))
}

// loadFromRedis applies every revocation found in Redis to the index:
// revocations written by other nodes or by seed-era writers.
func loadFromRedis(ctx context.Context, m *redismirror.Mirror, ix *index.Index, maxLifetime time.Duration) (int, error) {
	n := 0
	def := time.Now().Add(maxLifetime).UnixMilli()
	_, err := m.Load(ctx, func(e redismirror.Entry) {
		exp := e.ExpiresAtMs
		if exp == 0 {
			exp = def
		}
		switch e.Type {
		case revocation.TypeJTI:
			ix.RevokeJTI(e.Value, exp)
		case revocation.TypeSub:
			ix.RevokeSub(e.Value, e.SubCutoff, exp)
		case revocation.TypeKid:
			ix.RevokeKid(e.Value, exp)
		}
		n++
	})
	return n, err
}

// initialLoad loads Redis's revocations into the index, retrying with
// backoff until one load succeeds or ctx ends; then it closes
// p.redisLoaded. A failed attempt may have applied part of the keys, which
// is harmless (the next attempt applies them again).
func (p *propagation) initialLoad(ctx context.Context, ix *index.Index, maxLifetime time.Duration) {
	_ = backoff.Retry(ctx, redisLoadRetry, func(ctx context.Context, attempt int) (bool, error) {
		lctx, cancel := context.WithTimeout(ctx, redisRetryTimeout)
		n, err := loadFromRedis(lctx, p.mirror, ix, maxLifetime)
		cancel()
		if err == nil {
			close(p.redisLoaded)
			p.log.Info("redis: revocations loaded", "entries", n, "attempts", attempt)
			return true, nil
		}
		if ctx.Err() != nil {
			return false, err
		}
		msg := err.Error()
		p.redisLoadErr.Store(&msg)
		if attempt == 1 || attempt%20 == 0 {
			p.log.Warn("redis: initial load failed; /token/validate answers 503 until it succeeds (REDIS_STARTUP=require); retrying", "err", err, "attempt", attempt)
		}
		return false, err
	})
}

// whenRedisLoaded calls ready once the initial Redis load no longer holds
// the node back: at once (synchronously) when it already does not, else
// from another goroutine when the background load succeeds; never if the
// node stops first.
func (p *propagation) whenRedisLoaded(ready func()) {
	select {
	case <-p.redisLoaded:
		ready()
		return
	default:
	}
	go func() {
		select {
		case <-p.redisLoaded:
			ready()
		case <-p.bgDone:
		}
	}()
}

// reconcile re-reads Redis every REDIS_SYNC_INTERVAL_SECONDS so revocations
// written to Redis by other writers reach the index while running.
func (p *propagation) reconcile(ctx context.Context, ix *index.Index, maxLifetime time.Duration) {
	t := time.NewTicker(p.opts.RedisSyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			lctx, cancel := context.WithTimeout(ctx, p.opts.RedisSyncInterval)
			if _, err := loadFromRedis(lctx, p.mirror, ix, maxLifetime); err != nil && !errors.Is(err, context.Canceled) {
				p.log.Debug("redis: reconcile failed", "err", err)
			}
			cancel()
		}
	}
}

// notify tells every outbox that the audit log grew (called on the fan-out
// actor's goroutine, server/fanout.go; non-blocking).
func (p *propagation) notify(c audit.Committed) {
	if c.LastID > 0 {
		for _, pid := range p.outbox {
			p.engine.Send(pid, &outbox.Notify{LastID: c.LastID})
		}
	}
	if p.pub != nil {
		for _, te := range c.TokenEvents {
			p.pub.PublishTokenEvent(context.Background(), kafka.TokenEvent{TS: te.TS, Event: te.Event, Subject: te.Subject, JTI: te.JTI, Detail: te.Detail, Origin: p.opts.NodeID})
		}
	}
}

// kafkaOutbox is the Kafka bridge actor (httpapi.Deps.KafkaOutbox); nil
// without Kafka.
func (p *propagation) kafkaOutbox() *actor.PID { return p.outbox["kafka"] }

// checks reports Redis and Kafka health and the outbox backlog for /ready.
// An unreachable Redis or Kafka does not make the node unready: validation
// and revocation keep working and the outbox holds the backlog.
func (p *propagation) checks(ctx context.Context, r *wire.Readiness) {
	if p.redis != nil {
		r.Checks["redis"] = p.redisCheck(ctx)
	}
	if p.pub != nil {
		r.Checks["kafka"] = deliveryCheck(p.pub.Ping(ctx), p.prog["kafka"])
	}
	if ch, ok := p.trust.check(); ok {
		r.Checks["kafka_trust"] = ch
	}
	for name, prog := range p.prog {
		if r.Outbox == nil {
			r.Outbox = map[string]map[string]any{}
		}
		ok, lastErr := prog.Healthy()
		entry := map[string]any{"backlog": prog.Backlog(), "cursor": prog.Cursor(), "delivering": ok}
		if lastErr != "" {
			entry["last_error"] = lastErr
		}
		r.Outbox[name] = entry
	}
}

// redisCheck is the "redis" entry of /ready: while the initial load is
// awaited (REDIS_STARTUP=require) it says so, with the last failure.
func (p *propagation) redisCheck(ctx context.Context) wire.Check {
	select {
	case <-p.redisLoaded:
		return checkOf(p.mirror.Ping(ctx))
	default:
	}
	if e := p.redisLoadErr.Load(); e != nil {
		return wire.Check{OK: false, Detail: "unreachable: initial load of revocations failed, retrying (validation answers 503 until it succeeds): " + *e}
	}
	return wire.Check{OK: false, Detail: "loading: initial load of revocations in progress (validation answers 503 until it succeeds)"}
}

// close flushes and stops the outboxes (bounded by ctx), then the clients.
func (p *propagation) close(ctx context.Context) {
	for _, pid := range p.outbox {
		select {
		case <-p.engine.Poison(pid).Done():
		case <-ctx.Done():
		}
	}
	p.cancel()
	select {
	case <-p.stopped:
	case <-ctx.Done():
	}
	if p.pub != nil {
		p.pub.Close()
	}
	if p.redis != nil {
		_ = p.redis.Close()
	}
}
