// Package server wires a revocd node together: it opens the audit log,
// rebuilds the revocation index, restores the key rings, starts the actors
// and serves the HTTP API until its context ends, then shuts down in order.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/actors/audit"
	"github.com/revocd/revocd/actors/issuer"
	"github.com/revocd/revocd/actors/revoker"
	"github.com/revocd/revocd/config"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/httpapi"
)

// Run starts a node with cfg and blocks until ctx is cancelled (then shuts
// down gracefully) or a component fails. ready, if not nil, is called with
// the HTTP listener's address once the API serves.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger, ready func(addr string)) error {
	if cfg.Dev {
		log.Warn("DEVELOPMENT MODE: admin endpoints are open and the built-in development secret is allowed; never expose this node")
	}
	startAt := time.Now()
	store, err := sqlitestore.Open(ctx, cfg.SQLitePath)
	if err != nil {
		return err
	}
	defer store.Close()

	sec, err := loadSecrets(ctx, store, cfg.PQCSigningKeyID)
	if err != nil {
		return err
	}
	now, err := nodeClock(log)
	if err != nil {
		return err
	}
	ix := index.New(index.Options{ExpiryGrace: cfg.Leeway, Now: now})
	loaded := 0
	if err := store.ActiveRevocations(ctx, time.Now().UnixMilli(), func(e *revocation.Event) error {
		audit.ApplyEvent(ix, e)
		loaded++
		return nil
	}); err != nil {
		return fmt.Errorf("server: rebuild index: %w", err)
	}
	// The audit writer continues this node's event sequence from the log:
	// a node that cannot read it must not start (it would reuse numbers).
	if _, err := store.MaxSeqByOrigin(ctx); err != nil {
		return fmt.Errorf("server: read the event sequence: %w", err)
	}
	alg, err := token.ParseAlgorithm(cfg.JWTAlgorithm)
	if err != nil {
		return fmt.Errorf("server: JWT_ALGORITHM: %w", err)
	}
	maxLifetime := max(cfg.MaxAccessTTL, cfg.RefreshTTL)
	keys, err := issuer.LoadKeys(ctx, store, issuer.RingOptions{
		Algorithm: alg, Secret: cfg.JWTSecretKey, MaxLifetime: maxLifetime, Now: now,
		Revoked: func(kid string) bool { return ix.Check("", "", kid, 0) == index.Kid },
		Dev:     cfg.Dev, DevSecret: config.SeedDefaultSecret, Logger: log.With("actor", "issuer"),
	})
	if err != nil {
		return err
	}
	ring := keys.Ring
	if err := setLegacyKey(ring, cfg.JWTSecretKey, ix); err != nil {
		return err
	}
	verifier := token.NewVerifier(ring, token.VerifierOptions{Issuer: cfg.JWTIssuer, Leeway: cfg.Leeway, CacheSize: 1 << 16})
	eventVerifier := eventsig.NewVerifier()
	if err := eventVerifier.Trust(sec.signer.KeyID(), sec.signer.PublicKey()); err != nil {
		return fmt.Errorf("server: trust own event key: %w", err)
	}
	if err := trustConfigured(eventVerifier, cfg.EventTrustedKeys); err != nil {
		return err
	}

	clusterOpts, err := clusterOptionsOf(cfg)
	if err != nil {
		return err
	}
	// Key announcements under CLUSTER_SECRET: the trust rule shared by
	// the cluster and the Kafka consumer, restored from the last run.
	ann, err := startAnnouncements(ctx, clusterOpts.Secret, cfg.NodeID, eventVerifier, sec.signer, store, log.With("component", "trust"))
	if err != nil {
		return err
	}
	defer ann.close()
	engine, err := newEngine(clusterOpts)
	if err != nil {
		return err
	}
	metrics := httpapi.NewMetrics(newRegistry())
	nm := registerNodeMetrics(metrics.Registry(), ix)
	// The write path: handlers → issuer / revocation actor → audit writer
	// (commit, sign, index) → fan-out (outboxes, cluster), each hop a
	// typed message.
	fanOutPID := engine.Spawn(newFanOut(cfg.NodeID), "fanout")
	feedNotifier := httpapi.NewNotifier()
	feedPID := engine.Spawn(newFeedWaker(feedNotifier), "feedwaker")
	auditPID := engine.Spawn(audit.New(audit.Config{
		Store: store, Signer: sec.signer, Index: ix, Origin: cfg.NodeID, Logger: log.With("actor", "audit"), MaxClockSkew: cfg.MaxClockSkew, Now: now,
		Observe: nm.observeCommit, Subscribers: []*actor.PID{fanOutPID, feedPID},
		AccessTTL: max(cfg.AccessTTL, cfg.MaxAccessTTL), OnBadState: nm.droppedState,
	}), "audit")
	intakePID, in, err := startIntake(intakeDeps{
		Origin: cfg.NodeID, Verifier: eventVerifier, Replay: eventsig.NewReplayGuard(cfg.NonceTTL, nil), Index: ix,
		Engine: engine, Audit: auditPID, Registry: metrics.Registry(),
	})
	if err != nil {
		return err
	}
	cluster, err := startCluster(ctx, clusterDeps{
		Options: clusterOpts, Engine: engine, Store: store, Ingest: in, Log: log.With("component", "cluster"), Registry: metrics.Registry(),
		Verifier: eventVerifier, Signer: sec.signer, Trust: ann.announcementTrust(),
	})
	if err != nil {
		return err
	}
	clusterOpen := true
	defer func() {
		if clusterOpen {
			cluster.Close()
		}
	}()
	prop, err := startPropagation(ctx, propagationDeps{
		Options: propagationOptions{
			NodeID: cfg.NodeID, RedisURL: cfg.RedisURL, RedisStartupRequired: cfg.RedisStartupRequired,
			RedisSyncInterval: cfg.RedisSyncInterval, KafkaBootstrap: cfg.KafkaBootstrap,
			KafkaTopic: cfg.KafkaTopic, TokenTopic: cfg.RefreshTokenTopic, AcceptUnsigned: cfg.KafkaAcceptUnsigned,
		},
		Engine: engine, Store: store, Index: ix, Intake: in, MaxLifetime: maxLifetime,
		Log: log, Registry: metrics.Registry(), Announcements: ann,
	})
	if err != nil {
		return err
	}
	engine.Send(fanOutPID, &fanOutTargets{prop: prop, cluster: cluster})
	issuerPID := engine.Spawn(issuer.New(issuer.Config{
		Issuer: &token.Issuer{Ring: ring, Issuer: cfg.JWTIssuer, Now: now}, Ring: ring, Audit: auditPID, Algorithm: alg,
		AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL, Rotation: cfg.RefreshRotation, ReuseGrace: cfg.RefreshReuseGrace,
		Logger: log.With("actor", "issuer"), Index: ix, Dev: cfg.Dev, Now: now,
		// Keys are cluster-wide: this node's keys are published in its
		// signed log, other nodes' are verified (see the README, cluster).
		NodeID: cfg.NodeID, Keys: keys, WrapSecret: cfg.JWTSecretKey, OnKeyRefused: nm.refusedKey,
	}), "issuer")
	// A revoke_kid received from another node takes the key out of this
	// node's ring too, for good (the issuer persists it).
	engine.Send(auditPID, &audit.Subscribe{PID: issuerPID})
	revokerPID := engine.Spawn(revoker.New(revoker.Config{
		Audit: auditPID, Issuer: issuerPID, MaxLifetime: maxLifetime, Logger: log.With("actor", "revoker"),
	}), "revoker")
	if cfg.KafkaAcceptUnsigned {
		if cfg.KafkaBootstrap == "" {
			log.Warn("KAFKA_ACCEPT_UNSIGNED_EVENTS is set but KAFKA_BOOTSTRAP is not: it has no effect")
		} else if err := startUnsigned(ctx, unsignedDeps{
			Brokers: cfg.KafkaBootstrap, Topic: cfg.KafkaTopic, TokenTopic: cfg.RefreshTokenTopic, NodeID: cfg.NodeID,
			Engine: engine, Revoker: revokerPID, MaxLifetime: maxLifetime, NonceTTL: cfg.NonceTTL,
			Registry: metrics.Registry(), Log: log,
		}); err != nil {
			return err
		}
	}

	// With REDIS_STARTUP=require the index turns ready (validation stops
	// failing closed) only once Redis's revocations are loaded too.
	prop.whenRedisLoaded(ix.SetReady)
	log.Info("revocation index loaded", "active_revocations", loaded, "took", time.Since(startAt).Round(time.Millisecond))

	api, err := httpapi.New(httpapi.Deps{
		Options: httpapi.Options{
			Dev: cfg.Dev, AdminAPIKeys: cfg.AdminAPIKeys, RequestTimeout: cfg.RequestTimeout,
			OAuthClients: cfg.OAuthClients, PublicBaseURL: cfg.PublicBaseURL, DPoPNonceRequired: cfg.DPoPNonceRequired,
			AccessTTL: cfg.AccessTTL, MaxAccessTTL: cfg.MaxAccessTTL, Leeway: cfg.Leeway,
			PublishWait: cfg.PublishWait, MaxBatchTokens: cfg.MaxBatchTokens,
			RateLimitPerSecond: cfg.RateLimitPerSecond, RateLimitBurst: cfg.RateLimitBurst,
		},
		Engine: engine, Issuer: issuerPID, Revoker: revokerPID, Verifier: verifier, Ring: ring,
		Index: ix, Store: auditLogView{store}, ServerKEM: sec.kem, BindingKey: bindingKey(cfg.JWTSecretKey), LegacyBindingKey: sec.legacyBindingKey, Metrics: metrics, Logger: log,
		KafkaOutbox: prop.kafkaOutbox(),
		Feed:        &httpapi.Feed{Log: feedLogView{store}, Notifier: feedNotifier, APIKeys: cfg.FeedAPIKeys},
		EventKeys: func() []byte {
			b, _ := eventsig.PublicKeysJSON(eventVerifier)
			return b
		},
		Ready: readiness{index: ix, sqlite: store, prop: prop, cluster: cluster}.report,
	})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	srv := &fasthttp.Server{
		Handler:               api.Handler(),
		Name:                  "revocd",
		MaxRequestBodySize:    cfg.MaxBodyBytes,
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		ReadBufferSize:        cfg.MaxHeaderBytes,
		NoDefaultServerHeader: false,
		ErrorHandler:          transportError,
		Logger:                fasthttpLogger{log},
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("server: listen on LISTEN_ADDR %s: %w", cfg.ListenAddr, err)
	}
	log.Info("revocd listening", "addr", ln.Addr().String(), "node", cfg.NodeID, "alg", alg, "kid", ring.Current().ID, "sqlite", cfg.SQLitePath)
	serveErr := make(chan error, 1)
	go func() {
		if cfg.TLSCert != "" {
			serveErr <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()
	if ready != nil {
		ready(ln.Addr().String())
	}

	go sweep(ctx, ix, ring)
	if cfg.KeyRotation > 0 {
		go rotateOnSchedule(ctx, engine, issuerPID, cfg.KeyRotation, log)
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if err != nil {
			return fmt.Errorf("server: serve: %w", err)
		}
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.ShutdownWithContext(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	// Stop receiving from peers first, so no ingest waits on a stopped
	// audit writer.
	cluster.Close()
	clusterOpen = false
	// Poison waits for each actor's inbox to drain: the audit writer
	// commits what it holds before it stops; then the outboxes deliver
	// what they can within the deadline (the rest stays in the outbox).
	for _, pid := range []*actor.PID{revokerPID, issuerPID, intakePID, auditPID, fanOutPID} {
		select {
		case <-engine.Poison(pid).Done():
		case <-sctx.Done():
			return errors.New("server: shutdown deadline exceeded")
		}
	}
	prop.close(sctx)
	log.Info("stopped")
	return nil
}

// sweep periodically forgets expired revocations and retired keys.
func sweep(ctx context.Context, ix *index.Index, ring *token.Ring) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			ix.Sweep()
			ring.DropRetired(now)
		}
	}
}

// rotateOnSchedule makes a fresh signing key current every interval
// (KEY_ROTATION_INTERVAL_HOURS); replaced keys verify until their last token
// expires.
func rotateOnSchedule(ctx context.Context, engine *actor.Engine, issuerPID *actor.PID, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			res, err := engine.Request(issuerPID, &issuer.RotateKey{}, 30*time.Second).Result()
			if r, ok := res.(*issuer.Failed); err == nil && ok {
				err = r.Err
			}
			if err != nil {
				log.Error("scheduled key rotation failed", "err", err)
			}
		}
	}
}

// transportError renders fasthttp's own errors (body too large, malformed
// request, timeouts) as JSON {"detail": ...}.
func transportError(ctx *fasthttp.RequestCtx, err error) {
	status, detail := http.StatusBadRequest, "Malformed HTTP request"
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.As(err, &small):
		status, detail = http.StatusRequestHeaderFieldsTooLarge, "Request header too large"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status, detail = http.StatusRequestEntityTooLarge, "Request body too large"
	case errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err):
		status, detail = http.StatusRequestTimeout, "Request timeout"
	}
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"detail":"` + detail + `"}`)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug("fasthttp: " + fmt.Sprintf(format, args...))
}
