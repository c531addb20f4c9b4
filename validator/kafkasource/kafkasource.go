// Package kafkasource lets a revocd validator follow the Kafka revocation
// topic directly instead of revocd's server-sent-events feed:
//
//	src, err := kafkasource.New(kafkasource.Options{Brokers: []string{"kafka:9092"}})
//	v, err := validator.New(ctx, validator.Options{URLs: urls, APIKey: key, Source: src})
//
// It lives apart from package validator so that only services choosing
// this mode link a Kafka client.
//
// # Events
//
// Records are read with revocd's own consumer (transport/kafka: format-1
// and format-2 records, the batch signature re-joined) and each event is
// handed to the validator, which verifies its ML-DSA signature against the
// trusted event keys (Options.EventKeys, or GET /events/keys of revocd)
// before applying it; a refused event (a forged record produced straight
// to the topic, say) is skipped.
//
// # No gaps between the snapshot and the topic
//
// The validator loads revocd's /revocations/active snapshot first, then
// Run consumes the topic in a consumer group. A group without committed
// offsets starts at the beginning of the topic's retention, so every event
// published after the snapshot was taken is read (and older ones are
// applied again: applies are idempotent). The default group is new for
// every Source (revocd-validator-<host>-<random>), so each process reads
// the retained topic once at start. A fixed Options.GroupID resumes from
// its committed offsets, which is gap-free too (what was published after
// the previous run stopped consuming lies after its commits, and older
// revocations are in the snapshot) as long as no two processes use the
// group at the same time: a shared group splits the partitions between
// its members, and each would miss the others' revocations.
//
// Revocations must stay on the topic at least as long as the tokens they
// revoke live (retention ≥ the longest token lifetime), as for revocd's
// own nodes.
//
// # Staleness
//
// Kafka has no heartbeats. Every MaxStaleness/5 the Source lists the
// topic's end offsets (high watermarks), noting the time T before the
// request, and then reads its group's committed offsets; once every
// partition's committed offset reaches the end offset listed at T (or the
// partition holds no records), everything published before T has been
// applied, and the validator is fresh as of T. If the brokers cannot be
// reached, or the consumer does not keep up, freshness stops advancing
// and Validate fails closed with ErrStale (or asks revocd, with
// RemoteFallback) once MaxStaleness has passed.
package kafkasource

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/kafka"
	"github.com/revocd/revocd/validator"
)

// ErrOptions is wrapped by New's errors for invalid Options.
var ErrOptions = errors.New("kafkasource: invalid options")

// errRefused is the handler's error for an event the validator refused,
// so the consumer counts and skips it.
var errRefused = errors.New("kafkasource: event refused by the validator")

// Options configure a Source. Brokers is required.
type Options struct {
	// Brokers are the bootstrap brokers, host:port (revocd's KAFKA_BOOTSTRAP).
	Brokers []string
	// Topic is the revocation topic (default "revocations", revocd's
	// KAFKA_REVOCATION_TOPIC).
	Topic string
	// GroupID is the consumer group. Default: a new group for every Source
	// (revocd-validator-<host>-<random>), read from the start of the
	// topic's retention. A fixed group must never be shared by two
	// running processes (see the package documentation).
	GroupID string
	// Logger receives the consumer's warnings (slog.Default).
	Logger *slog.Logger
}

// Source follows the revocation topic; see the package documentation.
type Source struct {
	opts Options
}

var _ validator.Source = (*Source)(nil)

// New validates opts and returns a Source for validator.Options.Source.
// It does not contact the brokers.
func New(opts Options) (*Source, error) {
	if len(opts.Brokers) == 0 {
		return nil, fmt.Errorf("%w: Brokers: at least one broker is required", ErrOptions)
	}
	opts.Brokers = append([]string(nil), opts.Brokers...)
	if opts.Topic == "" {
		opts.Topic = kafka.DefaultRevocationTopic
	}
	if opts.GroupID == "" {
		host, _ := os.Hostname()
		var b [8]byte
		_, _ = rand.Read(b[:])
		opts.GroupID = "revocd-validator-" + host + "-" + hex.EncodeToString(b[:])
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Source{opts: opts}, nil
}

// GroupID is the consumer group the Source uses.
func (s *Source) GroupID() string { return s.opts.GroupID }

// Run consumes the topic into sink and checks liveness until ctx ends
// (then it returns nil) or the consumer fails.
func (s *Source) Run(ctx context.Context, sink validator.Sink) error {
	cons, err := kafka.NewConsumer(kafka.Config{
		Brokers: s.opts.Brokers, RevocationTopic: s.opts.Topic, GroupID: s.opts.GroupID,
		Logger: s.opts.Logger, ClientID: "revocd-validator",
	}, func(ctx context.Context, e *revocation.Event) error {
		if !sink.Apply(ctx, e) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return errRefused
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrOptions, err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.opts.Brokers...), kgo.ClientID("revocd-validator-admin"))
	if err != nil {
		return fmt.Errorf("kafkasource: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx) }()

	every := max(sink.MaxStaleness()/5, 20*time.Millisecond)
	tick := time.NewTicker(every)
	defer tick.Stop()
	var prev *mark
	for {
		select {
		case err := <-done:
			if err == nil && ctx.Err() == nil {
				err = errors.New("kafkasource: consumer stopped")
			}
			return err
		case <-ctx.Done():
			return <-done
		case <-tick.C:
			prev = s.check(ctx, adm, sink, prev, every)
		}
	}
}

// mark is the topic's end offsets listed at a time.
type mark struct {
	at   time.Time
	ends map[int32]int64
}

// check lists the end offsets (the next mark) and reads the group's
// committed offsets; it reports freshness as of the newest mark they reach.
func (s *Source) check(ctx context.Context, adm *kadm.Client, sink validator.Sink, prev *mark, timeout time.Duration) *mark {
	ctx, cancel := context.WithTimeout(ctx, max(timeout, 2*sink.MaxStaleness()/5))
	defer cancel()
	next := &mark{at: time.Now(), ends: map[int32]int64{}}
	ends, err := adm.ListEndOffsets(ctx, s.opts.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		s.opts.Logger.Warn("kafkasource: listing end offsets failed", "err", err)
		return prev
	}
	starts, err := adm.ListStartOffsets(ctx, s.opts.Topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		s.opts.Logger.Warn("kafkasource: listing start offsets failed", "err", err)
		return prev
	}
	ends.Each(func(o kadm.ListedOffset) {
		next.ends[o.Partition] = o.Offset
		if st, ok := starts.Lookup(o.Topic, o.Partition); ok && st.Offset >= o.Offset {
			next.ends[o.Partition] = -1 // nothing retained: nothing to read
		}
	})
	if len(next.ends) == 0 {
		s.opts.Logger.Warn("kafkasource: topic has no partitions", "topic", s.opts.Topic)
		return prev
	}
	committed, err := adm.FetchOffsets(ctx, s.opts.GroupID)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		s.opts.Logger.Warn("kafkasource: fetching committed offsets failed", "err", err)
		return prev
	}
	switch {
	case s.reaches(committed, next):
		sink.Fresh(next.at)
	case prev != nil && s.reaches(committed, prev):
		sink.Fresh(prev.at)
	}
	return next
}

// reaches reports whether every partition's committed offset is at least
// m's end offset.
func (s *Source) reaches(committed kadm.OffsetResponses, m *mark) bool {
	for p, end := range m.ends {
		if end < 0 {
			continue
		}
		c, ok := committed.Lookup(s.opts.Topic, p)
		if !ok || c.At < end {
			return false
		}
	}
	return true
}
