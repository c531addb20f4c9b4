package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/revocd/revocd/revocation"
)

const (
	// tokenBuffer bounds buffered token events; beyond it they are dropped.
	tokenBuffer = 10_000
	// tokenDeliveryTimeout bounds how long a token event may stay buffered.
	tokenDeliveryTimeout = 30 * time.Second
	// closeFlushTimeout bounds how long Close waits for token events.
	closeFlushTimeout = 2 * time.Second
)

// TokenEvent is one token lifecycle event (issued, validated, rejected, ...)
// published best effort to the token topic, keyed by Subject.
type TokenEvent struct {
	TS      int64  `json:"ts"`
	Event   string `json:"event"`
	Subject string `json:"subject"`
	JTI     string `json:"jti"`
	Detail  string `json:"detail,omitempty"`
	Origin  string `json:"origin"`
}

// PublisherStats are the Publisher's token event counters.
type PublisherStats struct {
	// TokenEventsSent counts token events acknowledged by Kafka.
	TokenEventsSent uint64
	// TokenEventsFailed counts token events dropped: buffer full, delivery
	// timeout, broker error or publisher closed.
	TokenEventsFailed uint64
}

// Publisher produces revocation events and token events. Both go through
// idempotent producers with acks=all (the franz-go defaults, set explicitly),
// on two separate clients so a flood of best-effort token events can never
// delay or block the delivery of a revocation.
//
// A Publisher is safe for concurrent use. Records are in order per partition
// key within one Deliver call and across sequential calls; concurrent Deliver
// calls interleave in an unspecified order.
type Publisher struct {
	cfg    Config
	log    *slog.Logger
	rev    *kgo.Client // revocation events
	tok    *kgo.Client // token events
	sent   atomic.Uint64
	failed atomic.Uint64
	closed atomic.Bool
	close  sync.Once
}

// NewPublisher validates cfg and creates the producer clients. It does not
// contact the brokers; use Ping for a readiness check.
func NewPublisher(cfg Config) (*Publisher, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	common := append(cfg.clientOpts(), kgo.RequiredAcks(kgo.AllISRAcks()))
	rev, err := kgo.NewClient(slices.Concat(common, []kgo.Opt{
		kgo.DefaultProduceTopic(cfg.RevocationTopic),
	})...)
	if err != nil {
		return nil, fmt.Errorf("kafka: new publisher: %w", err)
	}
	tok, err := kgo.NewClient(slices.Concat(common, []kgo.Opt{
		kgo.DefaultProduceTopic(cfg.TokenTopic),
		kgo.MaxBufferedRecords(tokenBuffer),
		kgo.RecordDeliveryTimeout(tokenDeliveryTimeout),
	})...)
	if err != nil {
		rev.Close()
		return nil, fmt.Errorf("kafka: new publisher: %w", err)
	}
	return &Publisher{cfg: cfg, log: cfg.Logger, rev: rev, tok: tok}, nil
}

// EventKey returns the record key of a revocation event: "type:value". It
// is pure and safe for concurrent use.
func EventKey(e *revocation.Event) string { return string(e.Type) + ":" + e.Value }

// Deliver produces events to the revocation topic, keyed by EventKey, and
// waits until Kafka acknowledged every one of them (acks=all) or ctx is done.
// Events with the same key land in one partition in slice order.
//
// On any failure it returns a wrapped error and the caller retries the whole
// batch; the duplicates this produces downstream are harmless because events
// are idempotent by event_id. When ctx ends first, Deliver returns ctx's
// error at once even if some records are in flight: those settle in the
// background, still bounded by Close. Pass a ctx with a deadline.
func (p *Publisher) Deliver(ctx context.Context, events []revocation.Event) error {
	if len(events) == 0 {
		return nil
	}
	recs := make([]*kgo.Record, len(events))
	for i := range events {
		e := &events[i]
		v, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("kafka: deliver: encode event %q: %w", e.EventID, err)
		}
		recs[i] = &kgo.Record{Topic: p.cfg.RevocationTopic, Key: []byte(EventKey(e)), Value: v}
	}
	done := make(chan kgo.ProduceResults, 1)
	go func() { done <- p.rev.ProduceSync(ctx, recs...) }()
	var res kgo.ProduceResults
	select {
	case res = <-done:
	case <-ctx.Done():
		// An idempotent producer never abandons a record it already sent
		// (it cannot know whether the broker wrote it), so ProduceSync may
		// outlive ctx; the caller's deadline wins.
		return fmt.Errorf("kafka: deliver to topic %q: %d events unconfirmed: %w", p.cfg.RevocationTopic, len(events), ctx.Err())
	}
	var failed int
	var first error
	for _, r := range res {
		if r.Err != nil {
			if first == nil {
				first = r.Err
			}
			failed++
		}
	}
	if first == nil {
		return nil
	}
	if errors.Is(first, kerr.UnknownTopicID) {
		// The topic was deleted and created again: kgo keeps producing to
		// the first instance's id and would fail forever. Forgetting the
		// topic makes the next attempt (the caller retries the batch) load
		// the new instance. The outbox delivers one batch at a time, so
		// nothing of this topic is in flight here.
		p.rev.PurgeTopicsFromProducing(p.cfg.RevocationTopic)
		p.log.Warn("kafka: revocation topic was recreated; producing to the new instance", "topic", p.cfg.RevocationTopic)
	}
	return fmt.Errorf("kafka: deliver to topic %q: %d of %d events failed: %w", p.cfg.RevocationTopic, failed, len(events), first)
}

// PublishTokenEvent queues ev for the token topic, keyed by Subject, and
// returns at once: it never blocks on Kafka. TS defaults to now. Delivery is
// best effort: a full buffer, a delivery timeout or a broker error drops the
// event, counts it in Stats and logs it (sampled: the 1st, 2nd, 4th, 8th...
// failure). ctx's values are kept but its cancellation is ignored, so a
// finished request does not drop its event. Safe for concurrent use.
func (p *Publisher) PublishTokenEvent(ctx context.Context, ev TokenEvent) {
	if p.closed.Load() {
		p.tokenResult(nil, kgo.ErrClientClosed)
		return
	}
	if ev.TS == 0 {
		ev.TS = time.Now().UnixMilli()
	}
	v, err := json.Marshal(ev)
	if err != nil { // unreachable: TokenEvent has only strings and an int
		p.tokenResult(nil, err)
		return
	}
	r := &kgo.Record{Topic: p.cfg.TokenTopic, Key: []byte(ev.Subject), Value: v}
	p.tok.TryProduce(context.WithoutCancel(ctx), r, p.tokenResult)
}

// tokenResult is the promise of token event records. kgo calls promises
// serially; this must not block.
func (p *Publisher) tokenResult(_ *kgo.Record, err error) {
	if err == nil {
		p.sent.Add(1)
		return
	}
	if n := p.failed.Add(1); n&(n-1) == 0 {
		p.log.Warn("kafka: token event dropped", "topic", p.cfg.TokenTopic, "failed_total", n, "err", err)
	}
}

// Stats returns the token event counters. Safe for concurrent use.
func (p *Publisher) Stats() PublisherStats {
	return PublisherStats{TokenEventsSent: p.sent.Load(), TokenEventsFailed: p.failed.Load()}
}

// ErrTopicMissing is reported by Ping when the brokers answer but do not
// know the revocation topic (it was deleted, or never created).
var ErrTopicMissing = errors.New("kafka: revocation topic does not exist")

// Ping reports whether a broker answers a metadata request for the
// revocation topic and holds that topic: a node whose topic is gone cannot
// deliver, so its readiness check must not say ok. The answer may be cached
// for kgo's metadata minimum age (5 s by default). Safe for concurrent use.
func (p *Publisher) Ping(ctx context.Context) error {
	topic := p.cfg.RevocationTopic
	m, err := kadm.NewClient(p.rev).Metadata(ctx, topic)
	if err != nil {
		return fmt.Errorf("kafka: ping: %w", err)
	}
	td, ok := m.Topics[topic]
	switch {
	case !ok:
		return fmt.Errorf("%w: topic %q", ErrTopicMissing, topic)
	case errors.Is(td.Err, kerr.UnknownTopicOrPartition) || errors.Is(td.Err, kerr.UnknownTopicID):
		return fmt.Errorf("%w: topic %q: %w", ErrTopicMissing, topic, td.Err)
	case td.Err != nil:
		return fmt.Errorf("kafka: ping: topic %q: %w", topic, td.Err)
	}
	return nil
}

// Close flushes buffered token events (for at most 2s) and closes both
// clients. Deliver calls still in flight fail and later calls fail at once;
// later token events are counted as failed.
// Close is idempotent and safe for concurrent use.
func (p *Publisher) Close() {
	p.close.Do(func() {
		p.closed.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), closeFlushTimeout)
		defer cancel()
		if err := p.tok.Flush(ctx); err != nil {
			p.log.Warn("kafka: close: token events not flushed", "err", err)
		}
		p.tok.Close()
		p.rev.Close()
	})
}
