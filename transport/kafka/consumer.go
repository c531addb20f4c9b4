package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

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
// Stats is safe for concurrent use; Run must be called once.
type Consumer struct {
	cfg     Config
	log     *slog.Logger
	handle  func(ctx context.Context, e *revocation.Event) error
	started atomic.Bool

	decoded, malformed, handlerErrs, commitErrs atomic.Uint64
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
	return &Consumer{cfg: cfg, log: cfg.Logger, handle: handle}, nil
}

// Stats returns the counters. Safe for concurrent use, also during Run.
func (c *Consumer) Stats() ConsumerStats {
	return ConsumerStats{
		Decoded:       c.decoded.Load(),
		Malformed:     c.malformed.Load(),
		HandlerErrors: c.handlerErrs.Load(),
		CommitErrors:  c.commitErrs.Load(),
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
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
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
// partition, the last record it is done with. It stops at the first record
// whose handling ctx's end interrupted.
func (c *Consumer) handleFetches(ctx context.Context, fetches kgo.Fetches) []*kgo.Record {
	var done []*kgo.Record
	stopped := false
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		var last *kgo.Record
		for _, r := range p.Records {
			if stopped || !c.handleRecord(ctx, r) {
				stopped = true
				break
			}
			last = r
		}
		if last != nil {
			done = append(done, last)
		}
	})
	return done
}

// handleRecord decodes r and calls the handler. It reports false if the
// record was not handled because ctx ended.
func (c *Consumer) handleRecord(ctx context.Context, r *kgo.Record) bool {
	if ctx.Err() != nil {
		return false
	}
	e, err := DecodeEvent(r.Value)
	if err != nil {
		c.malformed.Add(1)
		c.log.Warn("kafka: consumer: dropping malformed record",
			"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "bytes", len(r.Value), "err", err)
		return true
	}
	c.decoded.Add(1)
	if err := c.handle(ctx, e); err != nil {
		if ctx.Err() != nil {
			return false
		}
		c.handlerErrs.Add(1)
		c.log.Warn("kafka: consumer: handler rejected event; skipping",
			"topic", r.Topic, "partition", r.Partition, "offset", r.Offset,
			"event_id", e.EventID, "origin", e.Origin, "seq", e.Seq, "err", err)
	}
	return true
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
