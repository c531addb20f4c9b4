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

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/revocation"
)

const (
	// tokenBuffer bounds buffered token events; beyond it they are dropped.
	tokenBuffer = 10_000
	// tokenDeliveryTimeout bounds how long a token event may stay buffered.
	tokenDeliveryTimeout = 30 * time.Second
	// closeFlushTimeout bounds how long Close waits for token events.
	closeFlushTimeout = 2 * time.Second
	// partitionsTTL is how long Deliver trusts a partition count.
	partitionsTTL = 30 * time.Second
	// partitionsTimeout bounds the metadata request for the count.
	partitionsTimeout = 5 * time.Second
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
	// EventsDelivered counts revocation events Deliver wrote and Kafka
	// acknowledged (a retried batch counts again).
	EventsDelivered uint64
	// EventsSkipped counts events Deliver left out: not of Config.Origin.
	EventsSkipped uint64
	// WireRecords, WireBytes and WireBytesUncompressed are what the
	// revocation client wrote to the topic: records, record batch bytes as
	// stored (compressed), and before compression.
	WireRecords, WireBytes, WireBytesUncompressed uint64
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

	wire               *wireHook
	delivered, skipped atomic.Uint64
	nparts, npartsAt   atomic.Int64 // revocation topic partition count, and when it was read
}

// NewPublisher validates cfg and creates the producer clients. It does not
// contact the brokers; use Ping for a readiness check.
func NewPublisher(cfg Config) (*Publisher, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	common := append(cfg.clientOpts(), kgo.RequiredAcks(kgo.AllISRAcks()))
	codec, _ := cfg.compression() // validated by withDefaults
	wire := &wireHook{}
	rev, err := kgo.NewClient(slices.Concat(common, []kgo.Opt{
		kgo.DefaultProduceTopic(cfg.RevocationTopic),
		// Deliver computes partitions with the same partitioner (keyed
		// records: murmur2 of the key, as Kafka's default) to place the
		// batch signature headers.
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		// No ProducerLinger(0): ProduceSync unlingers the partitions it
		// wrote to once the whole batch is buffered, so a Deliver goes out
		// in one request without waiting for the linger, while linger 0
		// would send the first record alone and the rest a round trip later.
		kgo.ProducerBatchCompression(codec, kgo.NoCompression()), // none for brokers older than the codec
		kgo.WithHooks(wire),
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
	return &Publisher{cfg: cfg, log: cfg.Logger, rev: rev, tok: tok, wire: wire}, nil
}

// EventKey returns the record key of a revocation event: "type:value". It
// is pure and safe for concurrent use.
func EventKey(e *revocation.Event) string { return string(e.Type) + ":" + e.Value }

// Deliver produces events to the revocation topic, keyed by EventKey, and
// waits until Kafka acknowledged every one of them (acks=all) or ctx is done.
// Events with the same key land in one partition in slice order. With
// Config.Origin set, events of another origin are left out (they are
// acknowledged at once): their origin publishes them.
//
// Events whose Sig is a well-formed eventsig batch signature are written in
// format 2 (see FormatSplit): the batch signature once per (batch,
// partition) in a header of the batch's last record in that partition.
// Others are written in format 1. If a record did not land in the partition
// its header was planned for (the partition count changed), its batch is
// written again in format 1 before Deliver returns.
//
// On any failure it returns a wrapped error and the caller retries the whole
// batch; the duplicates this produces downstream are harmless because events
// are idempotent by event_id. When ctx ends first, Deliver returns ctx's
// error at once even if some records are in flight: those settle in the
// background, still bounded by Close. Pass a ctx with a deadline.
func (p *Publisher) Deliver(ctx context.Context, events []revocation.Event) error {
	if p.cfg.Origin != "" {
		own := events[:0:0]
		for i := range events {
			if events[i].Origin == p.cfg.Origin {
				own = append(own, events[i])
			}
		}
		if skipped := len(events) - len(own); skipped > 0 {
			p.skipped.Add(uint64(skipped))
		}
		events = own
	}
	if len(events) == 0 {
		return nil
	}
	parts := p.partitions(ctx)
	recs, plan, err := p.encode(events, parts)
	if err != nil {
		return err
	}
	if err := p.produce(ctx, recs, len(events)); err != nil {
		return err
	}
	misplaced := plan.misplaced(recs)
	if len(misplaced) == 0 {
		p.delivered.Add(uint64(len(events)))
		return nil
	}
	// The partition count changed under us: the records of these batches
	// may lack their signature header in some partition. Forget the count
	// and write those events again, self-contained.
	p.nparts.Store(0)
	p.log.Warn("kafka: partition count changed during a delivery; writing the affected batches again in format 1",
		"topic", p.cfg.RevocationTopic, "events", len(misplaced))
	again := make([]*kgo.Record, 0, len(misplaced))
	for _, i := range misplaced {
		r, err := p.record(&events[i], nil, nil)
		if err != nil {
			return err
		}
		again = append(again, r)
	}
	if err := p.produce(ctx, again, len(again)); err != nil {
		return err
	}
	p.delivered.Add(uint64(len(events)))
	return nil
}

// record returns the record of e: format 1 if rest is nil, else format 2
// with the per-event part rest and tail (splitTail).
func (p *Publisher) record(e *revocation.Event, rest, tail []byte) (*kgo.Record, error) {
	var v []byte
	var err error
	if rest == nil {
		v, err = json.Marshal(e)
	} else {
		v, err = encodeSplit(e, rest, tail)
	}
	if err != nil {
		return nil, fmt.Errorf("kafka: deliver: encode event %q: %w", e.EventID, err)
	}
	r := &kgo.Record{
		Topic: p.cfg.RevocationTopic, Key: []byte(EventKey(e)), Value: v,
		Headers: []kgo.RecordHeader{{Key: HeaderOrigin, Value: []byte(e.Origin)}},
	}
	if rest == nil && len(e.Sig) > 0 {
		p.addNodeKey(r) // a signed format-1 record is self-contained
	}
	return r, nil
}

// splitPlan remembers where encode expected the format-2 records to land.
type splitPlan struct {
	part  []int32 // per record: expected partition, -1 for format 1
	batch []int   // per record: index of its batch signature in sigs
}

// misplaced returns the indexes of the records of every batch that has a
// record outside its expected partition.
func (sp *splitPlan) misplaced(recs []*kgo.Record) []int {
	bad := map[int]bool{}
	for i, r := range recs {
		if sp.part[i] >= 0 && r.Partition != sp.part[i] {
			bad[sp.batch[i]] = true
		}
	}
	if len(bad) == 0 {
		return nil
	}
	var out []int
	for i := range recs {
		if sp.part[i] >= 0 && bad[sp.batch[i]] {
			out = append(out, i)
		}
	}
	return out
}

// encode builds the records of events. With nparts > 0 it writes events
// whose Sig splits in format 2 and adds the batch signature header to the
// last record of each (batch, partition); with nparts 0 (partition count
// unknown) everything is format 1.
func (p *Publisher) encode(events []revocation.Event, nparts int) ([]*kgo.Record, *splitPlan, error) {
	recs := make([]*kgo.Record, len(events))
	plan := &splitPlan{part: make([]int32, len(events)), batch: make([]int, len(events))}
	type tp struct {
		batch int
		part  int32
	}
	last := map[tp]int{}
	var sigs [][]byte
	var tail []byte
	partitioner := kgo.StickyKeyPartitioner(nil).ForTopic(p.cfg.RevocationTopic)
	for i := range events {
		e := &events[i]
		plan.part[i] = -1
		batchSig, rest, ok := eventsig.SplitSig(e.Sig)
		if !ok || nparts <= 0 {
			r, err := p.record(e, nil, nil)
			if err != nil {
				return nil, nil, err
			}
			recs[i] = r
			continue
		}
		if n := len(sigs); n == 0 || !sameBytes(sigs[n-1], batchSig) {
			// Events of one batch are adjacent in commit order; a batch
			// seen again after another one just gets a second header.
			sigs = append(sigs, batchSig)
			tail = splitTail(batchRef(batchSig))
		}
		r, err := p.record(e, rest, tail)
		if err != nil {
			return nil, nil, err
		}
		recs[i] = r
		part := int32(partitioner.Partition(r, nparts))
		plan.part[i], plan.batch[i] = part, len(sigs)-1
		last[tp{len(sigs) - 1, part}] = i
	}
	for k, i := range last {
		recs[i].Headers = append(recs[i].Headers, kgo.RecordHeader{Key: HeaderBatchSig, Value: sigs[k.batch]})
		p.addNodeKey(recs[i])
	}
	return recs, plan, nil
}

// partitions returns the revocation topic's partition count, cached for
// partitionsTTL; 0 if it cannot be read.
func (p *Publisher) partitions(ctx context.Context) int {
	if n := p.nparts.Load(); n > 0 && time.Since(time.Unix(0, p.npartsAt.Load())) < partitionsTTL {
		return int(n)
	}
	mctx, cancel := context.WithTimeout(ctx, partitionsTimeout)
	defer cancel()
	topic := p.cfg.RevocationTopic
	m, err := kadm.NewClient(p.rev).Metadata(mctx, topic)
	if err != nil {
		p.log.Warn("kafka: cannot read the revocation topic's partition count; writing format 1", "topic", topic, "err", err)
		return 0
	}
	td, ok := m.Topics[topic]
	if !ok || td.Err != nil || len(td.Partitions) == 0 {
		return 0
	}
	p.nparts.Store(int64(len(td.Partitions)))
	p.npartsAt.Store(time.Now().UnixNano())
	return len(td.Partitions)
}

// produce writes recs and waits for their acknowledgement; events is the
// count for error messages.
func (p *Publisher) produce(ctx context.Context, recs []*kgo.Record, events int) error {
	done := make(chan kgo.ProduceResults, 1)
	go func() { done <- p.rev.ProduceSync(ctx, recs...) }()
	var res kgo.ProduceResults
	select {
	case res = <-done:
	case <-ctx.Done():
		// An idempotent producer never abandons a record it already sent
		// (it cannot know whether the broker wrote it), so ProduceSync may
		// outlive ctx; the caller's deadline wins.
		return fmt.Errorf("kafka: deliver to topic %q: %d events unconfirmed: %w", p.cfg.RevocationTopic, events, ctx.Err())
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
		p.nparts.Store(0)
		p.log.Warn("kafka: revocation topic was recreated; producing to the new instance", "topic", p.cfg.RevocationTopic)
	}
	return fmt.Errorf("kafka: deliver to topic %q: %d of %d events failed: %w", p.cfg.RevocationTopic, failed, events, first)
}

// OnProduceBatchWritten implements kgo.HookProduceBatchWritten for the
// revocation client: it counts the bytes written to the topic.
func (h *wireHook) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.ProduceBatchMetrics) {
	h.records.Add(uint64(m.NumRecords))
	h.compressed.Add(uint64(m.CompressedBytes))
	h.uncompressed.Add(uint64(m.UncompressedBytes))
}

// wireHook counts what the revocation client wrote.
type wireHook struct {
	records, compressed, uncompressed atomic.Uint64
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

// Stats returns the counters. Safe for concurrent use.
func (p *Publisher) Stats() PublisherStats {
	return PublisherStats{
		TokenEventsSent: p.sent.Load(), TokenEventsFailed: p.failed.Load(),
		EventsDelivered: p.delivered.Load(), EventsSkipped: p.skipped.Load(),
		WireRecords: p.wire.records.Load(), WireBytes: p.wire.compressed.Load(),
		WireBytesUncompressed: p.wire.uncompressed.Load(),
	}
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
