package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/revocation"
)

const (
	// maxPollRecords bounds one poll, hence the work done while a
	// rebalance is held back (BlockRebalanceOnPoll).
	maxPollRecords = 256
	// commitTimeout bounds one offset commit, also at shutdown.
	commitTimeout = 10 * time.Second
	// maxErrBackoff caps the pause after a poll that returned only errors.
	maxErrBackoff = 5 * time.Second
)

// ConsumerStats are a Consumer's counters since it was created.
type ConsumerStats struct {
	// Decoded counts records DecodeEvent accepted and handed to the handler.
	Decoded uint64
	// Malformed counts records DecodeEvent rejected; they were skipped.
	Malformed uint64
	// HandlerErrors counts events the handler returned an error for (a
	// forged signature, say); they were skipped.
	HandlerErrors uint64
	// CommitErrors counts failed offset commits; the records since the last
	// successful commit are delivered again after a restart or rebalance.
	CommitErrors uint64
	// SkippedOwn counts records of Config.Origin skipped undecoded.
	SkippedOwn uint64
	// BatchesDropped counts format-2 batches dropped undelivered: their
	// signature header did not arrive within Config.MaxPendingRecords
	// records, or did not match their records; EventsDropped counts their
	// events.
	BatchesDropped, EventsDropped uint64
	// AnnouncementsRefused counts HeaderNodeKey headers that
	// Config.OnAnnouncement refused (a MAC under another secret, a node
	// that is not the record's origin, ...).
	AnnouncementsRefused uint64
	// Unsigned counts seed-era (unsigned) revocation records seen (see
	// DecodeSeedRecord): skipped with Config.SkipUnsigned, handled in
	// Config.UnsignedOnly mode, else handed to the handler as unsigned
	// events, which it refuses.
	Unsigned uint64
}

// Consumer reads the revocation topic in a consumer group and hands each
// decoded event to its handler, one at a time, in partition order.
//
// Delivery is at least once: the offset of a record is committed only after
// the handler returned for it. A record that does not decode (see
// DecodeEvent) or for which the handler returns an error is logged, counted
// and skipped (committed), so a poison or forged record never blocks its
// partition. A record whose handler fails because Run's ctx ended is not
// committed: it is delivered again after a restart.
//
// A format-2 record waits in memory until the batch signature header of its
// batch arrives in the same partition; offsets are committed only below the
// first waiting record. A batch whose header does not match its records, or
// has not arrived within Config.MaxPendingRecords further records, is
// dropped and counted. With Config.Origin set, records of that origin are
// skipped by their HeaderOrigin without being decoded.
//
// Stats is safe for concurrent use; Run must be called once.
type Consumer struct {
	cfg     Config
	log     *slog.Logger
	handle  func(ctx context.Context, e *revocation.Event) error
	started atomic.Bool

	mu    sync.Mutex // guards parts against the rebalance callbacks
	parts map[topicPartition]*partState

	decoded, malformed, handlerErrs, commitErrs atomic.Uint64
	skippedOwn, batchesDropped, eventsDropped   atomic.Uint64
	announceRefused, unsigned                   atomic.Uint64
}

// NewConsumer validates cfg, which must name a GroupID, and returns a
// Consumer that calls handle for every event. handle is called from Run's
// goroutine only, never concurrently, with Run's ctx. The Consumer does not
// contact the brokers before Run.
func NewConsumer(cfg Config, handle func(ctx context.Context, e *revocation.Event) error) (*Consumer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.GroupID == "" {
		return nil, errors.New("kafka: new consumer: empty GroupID")
	}
	if handle == nil {
		return nil, errors.New("kafka: new consumer: nil handler")
	}
	return &Consumer{cfg: cfg, log: cfg.Logger, handle: handle, parts: map[topicPartition]*partState{}}, nil
}

// Stats returns the counters. Safe for concurrent use, also during Run.
func (c *Consumer) Stats() ConsumerStats {
	return ConsumerStats{
		Decoded:       c.decoded.Load(),
		Malformed:     c.malformed.Load(),
		HandlerErrors: c.handlerErrs.Load(),
		CommitErrors:  c.commitErrs.Load(),
		SkippedOwn:    c.skippedOwn.Load(), BatchesDropped: c.batchesDropped.Load(), EventsDropped: c.eventsDropped.Load(),
		AnnouncementsRefused: c.announceRefused.Load(), Unsigned: c.unsigned.Load(),
	}
}

// Run joins the group and consumes until ctx is done, then commits what was
// handled, leaves the group and returns nil. A new group starts at the
// beginning of the topic. Fetch and commit errors are logged and retried;
// Run returns an error only if the client cannot be created or Run was
// already called.
func (c *Consumer) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("kafka: consumer: Run called more than once")
	}
	cl, err := kgo.NewClient(slices.Concat(c.cfg.clientOpts(), []kgo.Opt{
		kgo.ConsumerGroup(c.cfg.GroupID),
		kgo.ConsumeTopics(c.cfg.RevocationTopic),
		kgo.ConsumeResetOffset(c.resetOffset()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsRevoked(c.forget),
		kgo.OnPartitionsLost(c.forget),
	})...)
	if err != nil {
		return fmt.Errorf("kafka: consumer: %w", err)
	}
	defer cl.CloseAllowingRebalance()

	var backoff time.Duration
	for {
		fetches := cl.PollRecords(ctx, maxPollRecords)
		if ctx.Err() != nil {
			return nil // anything polled concurrently is not handled, so not committed
		}
		var fetchErr bool
		recreated := map[string]bool{}
		fetches.EachError(func(topic string, partition int32, err error) {
			fetchErr = true
			if errors.Is(err, kerr.UnknownTopicID) && topic != "" {
				recreated[topic] = true
			}
			c.log.Warn("kafka: consumer: fetch error", "topic", topic, "partition", partition, "err", err)
		})
		if done := c.handleFetches(ctx, fetches); len(done) > 0 {
			c.commit(ctx, cl, done)
		}
		cl.AllowRebalance()
		for topic := range recreated {
			// The topic was deleted and created again: kgo keeps fetching
			// the first instance's id and would fail forever. Forget the
			// topic and consume it again: the group's offsets of the old
			// instance are dropped by the broker (or are out of range and
			// reset to the start), so the new instance is read from its
			// beginning.
			c.log.Warn("kafka: consumer: topic was recreated; consuming the new instance", "topic", topic)
			cl.PurgeTopicsFromConsuming(topic)
			cl.AddConsumeTopics(topic)
		}
		if fetchErr && fetches.NumRecords() == 0 {
			backoff = min(max(2*backoff, 100*time.Millisecond), maxErrBackoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
		} else {
			backoff = 0
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// handleFetches handles records in partition order and returns, per
// partition, a record whose offset is the last one every record up to
// which is done with (handled, skipped, or dropped). It stops at the first
// record whose handling ctx's end interrupted.
func (c *Consumer) handleFetches(ctx context.Context, fetches kgo.Fetches) []*kgo.Record {
	var done []*kgo.Record
	stopped := false
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if stopped || len(p.Records) == 0 {
			return
		}
		ps := c.part(p.Topic, p.Partition)
		var through int64 = -1 // last offset processed in this fetch
		for _, r := range p.Records {
			if !c.handleRecord(ctx, ps, r) {
				stopped = true
				break
			}
			through = r.Offset
		}
		if stopped {
			// Run returns without handling more: what is pending is
			// read again after a restart.
			through = min(through, ps.stoppedAt-1)
		}
		if first := ps.firstPending(); first >= 0 {
			through = min(through, first-1)
		}
		if through > ps.committed {
			ps.committed = through
			ref := p.Records[0]
			done = append(done, &kgo.Record{Topic: ref.Topic, Partition: ref.Partition, Offset: through, LeaderEpoch: ref.LeaderEpoch})
		}
	})
	return done
}

// part returns the state of a partition, creating it.
func (c *Consumer) part(topic string, partition int32) *partState {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := topicPartition{topic, partition}
	ps := c.parts[k]
	if ps == nil {
		ps = &partState{committed: -1}
		c.parts[k] = ps
	}
	return ps
}

// forget drops the state of partitions this consumer no longer owns: their
// pending records are read again by their next owner.
func (c *Consumer) forget(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for topic, parts := range lost {
		for _, p := range parts {
			delete(c.parts, topicPartition{topic, p})
		}
	}
}

// handleRecord decodes r and calls the handler, or buffers r until its
// batch signature arrives. It reports false if a record was not handled
// because ctx ended; ps.stoppedAt is then the first such offset.
func (c *Consumer) handleRecord(ctx context.Context, ps *partState, r *kgo.Record) bool {
	if ctx.Err() != nil {
		ps.stoppedAt = r.Offset
		return false
	}
	ps.read++
	for len(ps.batches) > 0 && ps.read-ps.batches[0].start > uint64(c.cfg.MaxPendingRecords) {
		c.dropBatch(ps, 0, "its signature header did not arrive")
	}
	if c.cfg.UnsignedOnly {
		return c.handleUnsigned(ctx, ps, r)
	}
	if c.cfg.Origin != "" {
		if o, ok := header(r, HeaderOrigin); ok && string(o) == c.cfg.Origin {
			c.skippedOwn.Add(1)
			return true
		}
	}
	e, ref, err := decodeWire(r.Value)
	if err != nil && seedRecord(r) {
		if se, serr := DecodeSeedRecord(r.Value, time.Now()); serr == nil {
			return c.seedRecord(ctx, ps, r, se)
		}
	}
	if err != nil {
		c.malformed.Add(1)
		c.log.Warn("kafka: consumer: dropping malformed record",
			"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "bytes", len(r.Value), "err", err)
		return true
	}
	if ref == "" {
		c.announce(r)
		return c.deliver(ctx, ps, r, e)
	}
	bi := ps.batch(ref)
	sig, last := header(r, HeaderBatchSig)
	if !last {
		if bi < 0 {
			ps.batches = append(ps.batches, &pendingBatch{ref: ref, start: ps.read})
			bi = len(ps.batches) - 1
		}
		ps.batches[bi].recs = append(ps.batches[bi].recs, pendingRec{r, e})
		return true
	}
	var recs []pendingRec
	if bi >= 0 {
		recs = ps.batches[bi].recs
		ps.batches = slices.Delete(ps.batches, bi, bi+1)
	}
	recs = append(recs, pendingRec{r, e})
	if len(sig) != eventsig.BatchSigSize || batchRef(sig) != ref {
		c.batchesDropped.Add(1)
		c.eventsDropped.Add(uint64(len(recs)))
		c.log.Warn("kafka: consumer: dropping a batch whose signature header does not match its records",
			"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "batch", ref, "events", len(recs))
		return true
	}
	c.announce(r)
	for i, pr := range recs {
		if err := joinBatchSig(pr.e, ref, sig); err != nil {
			c.malformed.Add(1)
			c.log.Warn("kafka: consumer: dropping malformed record",
				"topic", pr.r.Topic, "partition", pr.r.Partition, "offset", pr.r.Offset, "err", err)
			continue
		}
		if !c.deliver(ctx, ps, pr.r, pr.e) {
			ps.stoppedAt = recs[i].r.Offset
			return false
		}
	}
	return true
}

// dropBatch drops the pending batch ps.batches[i] and counts it.
func (c *Consumer) dropBatch(ps *partState, i int, why string) {
	b := ps.batches[i]
	ps.batches = slices.Delete(ps.batches, i, i+1)
	c.batchesDropped.Add(1)
	c.eventsDropped.Add(uint64(len(b.recs)))
	r := b.recs[0].r
	c.log.Warn("kafka: consumer: dropping a format-2 batch: "+why,
		"topic", r.Topic, "partition", r.Partition, "first_offset", r.Offset, "batch", b.ref, "events", len(b.recs))
}

// deliver hands e (of record r) to the handler. It reports false if the
// handler failed because ctx ended; ps.stoppedAt is then r's offset.
func (c *Consumer) deliver(ctx context.Context, ps *partState, r *kgo.Record, e *revocation.Event) bool {
	c.decoded.Add(1)
	if err := c.handle(ctx, e); err != nil {
		if ctx.Err() != nil {
			ps.stoppedAt = r.Offset
			return false
		}
		c.handlerErrs.Add(1)
		c.log.Warn("kafka: consumer: handler rejected event; skipping",
			"topic", r.Topic, "partition", r.Partition, "offset", r.Offset,
			"event_id", e.EventID, "origin", e.Origin, "seq", e.Seq, "err", err)
	}
	return true
}

type topicPartition struct {
	topic     string
	partition int32
}

// partState is a Consumer's state of one partition: the format-2 records
// waiting for their batch signature, in offset order of their batch's first
// record.
type partState struct {
	read      uint64 // records read
	batches   []*pendingBatch
	committed int64 // last offset committed by this Consumer, -1: none
	stoppedAt int64 // first offset not handled when ctx ended
}

type pendingBatch struct {
	ref   string
	start uint64 // partState.read at its first record
	recs  []pendingRec
}

type pendingRec struct {
	r *kgo.Record
	e *revocation.Event
}

// batch returns the index of the pending batch ref, or -1.
func (ps *partState) batch(ref string) int {
	for i, b := range ps.batches {
		if b.ref == ref {
			return i
		}
	}
	return -1
}

// firstPending returns the lowest offset of a pending record, or -1.
func (ps *partState) firstPending() int64 {
	first := int64(-1)
	for _, b := range ps.batches {
		if o := b.recs[0].r.Offset; first < 0 || o < first {
			first = o
		}
	}
	return first
}

// commit commits the offsets after recs. It runs after ctx may have ended,
// so it uses a ctx of its own.
func (c *Consumer) commit(ctx context.Context, cl *kgo.Client, recs []*kgo.Record) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if err := cl.CommitRecords(cctx, recs...); err != nil {
		c.commitErrs.Add(1)
		c.log.Warn("kafka: consumer: offset commit failed; records will be redelivered",
			"group", c.cfg.GroupID, "err", err)
	}
}
