// Package kafka is revocd's Kafka glue: it publishes signed revocation events
// and best-effort token events, consumes revocation events in a consumer
// group with at-least-once semantics, and creates the topics it needs.
//
// Every type is backed by github.com/twmb/franz-go. Revocation records are
// keyed "type:value" and carry the JSON of a revocation.Event. Signed
// events are written in format 2 (see FormatSplit): the ML-DSA-65 batch
// signature travels once per (batch, partition) in a record header and each
// value carries only the event's Merkle proof; the Consumer puts the
// signature back together, so its handler sees the same events as with the
// seed-era format 1, which it still reads. Events are idempotent by
// event_id, so the duplicates that at-least-once delivery implies are
// harmless.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/revocd/revocd/crypto/eventsig"
)

// Defaults applied by Config when a field is left empty.
const (
	// DefaultRevocationTopic is the topic revocation events are published to.
	DefaultRevocationTopic = "revocations"
	// DefaultTokenTopic is the topic token lifecycle events are published to.
	DefaultTokenTopic = "token-events"
	// DefaultClientID is the Kafka client id used when Config.ClientID is empty.
	DefaultClientID = "revocd"
)

// Config configures a Publisher, a Consumer or EnsureTopics. The zero value
// of every field but Brokers (and GroupID for a Consumer) selects a default.
// A Config is a plain value: copy it freely; the constructors never retain the
// caller's Brokers slice.
type Config struct {
	// Brokers are the bootstrap brokers, host:port (see ParseBrokers).
	Brokers []string
	// RevocationTopic defaults to DefaultRevocationTopic.
	RevocationTopic string
	// TokenTopic defaults to DefaultTokenTopic.
	TokenTopic string
	// GroupID is the consumer group of a Consumer, e.g. "revocd-<node>".
	// Required by NewConsumer, ignored elsewhere.
	GroupID string
	// ClientID defaults to DefaultClientID.
	ClientID string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Origin is this node's id (revocation.Event.Origin of the events it
	// signs). When set, a Publisher delivers only events of this origin (a
	// node publishes what it originated, not what it received: one copy per
	// event on the topic) and a Consumer skips records of this origin by
	// their HeaderOrigin, without decoding them. Empty: no filtering.
	Origin string
	// Compression is the revocation records' batch compression: "lz4"
	// (default: about 215 bytes per event in format 2 at the lowest CPU
	// cost measured), "zstd" (about 175 bytes, slower), "snappy" or "none".
	Compression string
	// Announcement, when set, is this node's sealed event-key announcement
	// (eventsig.SealAnnouncement): a Publisher adds it as the
	// HeaderNodeKey header to every record that carries a batch signature
	// (once per batch and partition) and to every signed format-1 record,
	// so that consumers sharing the cluster secret learn the key from the
	// topic itself.
	Announcement []byte
	// OnAnnouncement, when set, receives a Consumer's HeaderNodeKey
	// headers with the record's HeaderOrigin, before the events the record
	// completes are handed to the handler; it trusts the announced key or
	// returns why not (the events are delivered either way: the handler's
	// verification decides). Called from Run's goroutine only.
	OnAnnouncement func(origin string, sealed []byte) error
	// SkipUnsigned makes a Consumer skip seed-era unsigned revocation
	// records (DecodeSeedRecord) instead of handing them to its handler as
	// unsigned events (which a verifying handler refuses and counts): for
	// a node whose UnsignedOnly consumer takes them.
	SkipUnsigned bool
	// UnsignedOnly makes a Consumer handle only seed-era unsigned
	// revocation records, each passed to Unsigned; every other record is
	// skipped. Such a consumer runs in a consumer group shared by the
	// nodes that accept unsigned events, so each record is taken by one
	// node only. A new group starts at the end of the topic, not its
	// beginning: seed records from before the opt-in are not replayed
	// (a revoke_sub committed now would also revoke the tokens its subject
	// got since the seed's service revoked it).
	UnsignedOnly bool
	// Unsigned handles a seed-era record in UnsignedOnly mode: nil once
	// it is durable (the offset is then committed), an error to skip it
	// (logged), or an error after Run's ctx ended (not committed).
	Unsigned func(ctx context.Context, e *SeedEvent) error
	// MaxPendingRecords bounds, per partition, how many records a Consumer
	// reads after the first record of a format-2 batch while that batch's
	// signature header has not arrived; the batch is then dropped and
	// counted (ConsumerStats.BatchesDropped). Default 4 × eventsig.MaxBatchSize.
	MaxPendingRecords int
}

// compression returns the kgo codecs of c.Compression.
func (c Config) compression() (kgo.CompressionCodec, error) {
	switch c.Compression {
	case "", "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "none":
		return kgo.NoCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("kafka: config: unknown compression %q (want zstd, lz4, snappy or none)", c.Compression)
}

// withDefaults validates c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	if len(c.Brokers) == 0 {
		return c, errors.New("kafka: config: no brokers (set KAFKA_BOOTSTRAP)")
	}
	brokers := make([]string, len(c.Brokers))
	for i, b := range c.Brokers {
		b = strings.TrimSpace(b)
		if err := checkBroker(b); err != nil {
			return c, fmt.Errorf("kafka: config: broker %q: %w", b, err)
		}
		brokers[i] = b
	}
	c.Brokers = brokers
	if c.RevocationTopic == "" {
		c.RevocationTopic = DefaultRevocationTopic
	}
	if c.TokenTopic == "" {
		c.TokenTopic = DefaultTokenTopic
	}
	if c.RevocationTopic == c.TokenTopic {
		return c, fmt.Errorf("kafka: config: revocation and token topics are both %q", c.TokenTopic)
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if _, err := c.compression(); err != nil {
		return c, err
	}
	if c.UnsignedOnly && c.Unsigned == nil {
		return c, errors.New("kafka: config: UnsignedOnly without an Unsigned handler")
	}
	if c.MaxPendingRecords <= 0 {
		c.MaxPendingRecords = 4 * eventsig.MaxBatchSize
	}
	return c, nil
}

// clientOpts returns the options every client of this package shares.
func (c Config) clientOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(c.ClientID),
		kgo.WithLogger(kgoLogger{c.Logger}),
	}
}

// ParseBrokers parses KAFKA_BOOTSTRAP: a comma-separated list of host:port
// (IPv6 hosts in brackets). Spaces around entries are ignored; an empty list,
// an empty entry, a missing host or a port outside 1..65535 is an error that
// names KAFKA_BOOTSTRAP. It is a pure function, safe for concurrent use.
func ParseBrokers(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("kafka: KAFKA_BOOTSTRAP is empty: want a comma-separated list of host:port")
	}
	parts := strings.Split(s, ",")
	out := make([]string, 0, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if err := checkBroker(p); err != nil {
			return nil, fmt.Errorf("kafka: KAFKA_BOOTSTRAP entry %d %q: %w (want host:port[,host:port...])", i+1, p, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// checkBroker validates one host:port.
func checkBroker(hp string) error {
	if hp == "" {
		return errors.New("empty entry")
	}
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return err
	}
	if host == "" {
		return errors.New("missing host")
	}
	if strings.ContainsAny(host, " \t/@?#") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
		return fmt.Errorf("invalid host %q", host)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return fmt.Errorf("invalid port %q", port)
	}
	return nil
}

// kgoLogger adapts a *slog.Logger to kgo.Logger. Only warnings and errors of
// the client are forwarded: kgo's info level logs every connection.
type kgoLogger struct{ l *slog.Logger }

func (kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelWarn
	switch level {
	case kgo.LogLevelError:
		lv = slog.LevelError
	case kgo.LogLevelInfo:
		lv = slog.LevelInfo
	case kgo.LogLevelDebug:
		lv = slog.LevelDebug
	}
	k.l.Log(context.Background(), lv, "kafka client: "+msg, keyvals...)
}
