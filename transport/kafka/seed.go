package kafka

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/revocd/revocd/revocation"
)

// ErrNotSeedRecord is returned by DecodeSeedRecord for a value that is not a
// seed-era revocation.
var ErrNotSeedRecord = errors.New("kafka: not a seed-era revocation record")

// SeedEvent is an unsigned revocation published by a seed-era producer (the
// seed's Python service): a JSON object with at least "type" (revoke_jti,
// revoke_sub or revoke_kid) and "value"; optionally "event_id", "ts",
// "reason", "ttl_seconds" and "expires_at". It is never a revocd record:
// those carry the HeaderOrigin header and a signature.
type SeedEvent struct {
	// ID identifies the record for replay detection: "seed:" + its
	// event_id, or "seed-sha256:" + the hex SHA-256 of the value without
	// one.
	ID    string
	Type  revocation.Type
	Value string
	// TS is the record's time ("ts"), zero if absent; informational only.
	TS time.Time
	// ExpiresAt is when the revocation lapses: "expires_at", else "ts" (or
	// now) plus "ttl_seconds"; zero when the record sets neither.
	ExpiresAt time.Time
	Reason    string
}

// maxSeedIDLen bounds a seed record's event_id, so that "seed:" + it fits
// revocation.Event's 64-byte EventID.
const maxSeedIDLen = 59

// seedWire is the seed's record, loosely typed: times are numbers (Unix
// seconds, or milliseconds when above 1e11) or RFC 3339 strings.
type seedWire struct {
	EventID    *string          `json:"event_id"`
	Type       *string          `json:"type"`
	Value      *string          `json:"value"`
	TS         json.RawMessage  `json:"ts"`
	ExpiresAt  json.RawMessage  `json:"expires_at"`
	TTLSeconds *json.Number     `json:"ttl_seconds"`
	Reason     *string          `json:"reason"`
	Sig        *json.RawMessage `json:"sig"`
	KeyID      *json.RawMessage `json:"key_id"`
	Format     *json.RawMessage `json:"format"`
}

// DecodeSeedRecord decodes the value of a seed-era revocation record at
// time now. It refuses (ErrNotSeedRecord) anything over MaxEventBytes, any
// value that is not one JSON object, one with revocd's signature fields
// ("sig", "key_id", "format": a revocd record, even a broken one, never
// takes this path), a type other than the three revocation types (state
// events are never accepted unsigned), an empty or over-long value or
// reason, and times it cannot read. It is pure and never panics.
func DecodeSeedRecord(b []byte, now time.Time) (*SeedEvent, error) {
	if len(b) > MaxEventBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrNotSeedRecord, len(b))
	}
	var w seedWire
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotSeedRecord, err)
	}
	if d.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrNotSeedRecord)
	}
	switch {
	case w.Sig != nil || w.KeyID != nil || w.Format != nil:
		return nil, fmt.Errorf("%w: it has revocd's signature fields", ErrNotSeedRecord)
	case w.Type == nil || !revocation.Type(*w.Type).Valid():
		return nil, fmt.Errorf("%w: type is not revoke_jti, revoke_sub or revoke_kid", ErrNotSeedRecord)
	case w.Value == nil || *w.Value == "" || len(*w.Value) > revocation.MaxValueLen:
		return nil, fmt.Errorf("%w: empty or over-long value", ErrNotSeedRecord)
	case w.Reason != nil && len(*w.Reason) > revocation.MaxReasonLen:
		return nil, fmt.Errorf("%w: over-long reason", ErrNotSeedRecord)
	case w.EventID != nil && (*w.EventID == "" || len(*w.EventID) > maxSeedIDLen):
		return nil, fmt.Errorf("%w: empty or over-long event_id", ErrNotSeedRecord)
	}
	e := &SeedEvent{Type: revocation.Type(*w.Type), Value: *w.Value}
	if w.Reason != nil {
		e.Reason = *w.Reason
	}
	if w.EventID != nil {
		e.ID = "seed:" + *w.EventID
	} else {
		h := sha256.Sum256(b)
		e.ID = "seed-sha256:" + hex.EncodeToString(h[:16])
	}
	var err error
	if e.TS, err = seedTime(w.TS); err != nil {
		return nil, fmt.Errorf("%w: ts: %w", ErrNotSeedRecord, err)
	}
	if e.ExpiresAt, err = seedTime(w.ExpiresAt); err != nil {
		return nil, fmt.Errorf("%w: expires_at: %w", ErrNotSeedRecord, err)
	}
	if e.ExpiresAt.IsZero() && w.TTLSeconds != nil {
		ttl, err := w.TTLSeconds.Float64()
		if err != nil || ttl <= 0 || ttl > math.MaxInt32 {
			return nil, fmt.Errorf("%w: ttl_seconds %q", ErrNotSeedRecord, w.TTLSeconds.String())
		}
		from := e.TS
		if from.IsZero() {
			from = now
		}
		e.ExpiresAt = from.Add(time.Duration(ttl * float64(time.Second)))
	}
	return e, nil
}

// seedTime reads a seed time: absent or null (zero time), a number of Unix
// seconds (milliseconds when above 1e11), or an RFC 3339 string.
func seedTime(raw json.RawMessage) (time.Time, error) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || s == "null" {
		return time.Time{}, nil
	}
	if s[0] == '"' {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return time.Time{}, err
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
			if t, err := time.Parse(layout, str); err == nil {
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("%q is not an ISO-8601 time", str)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || f > 1e15 {
		return time.Time{}, fmt.Errorf("%s is not a Unix time", s)
	}
	if f > 1e11 { // milliseconds
		return time.UnixMilli(int64(f)), nil
	}
	return time.Unix(0, int64(f*float64(time.Second))), nil
}

// seedRecord reports whether r may be a seed-era record: no HeaderOrigin
// (every record revocd writes has one).
func seedRecord(r *kgo.Record) bool {
	_, revocd := header(r, HeaderOrigin)
	return !revocd
}

// seedRecord handles a seed-era record in a node's own consumer: skipped
// with Config.SkipUnsigned (the UnsignedOnly consumer takes it), else handed
// to the handler as an unsigned event, which a verifying handler refuses
// and counts (reason "unsigned").
func (c *Consumer) seedRecord(ctx context.Context, ps *partState, r *kgo.Record, se *SeedEvent) bool {
	c.unsigned.Add(1)
	if c.cfg.SkipUnsigned {
		return true
	}
	e := &revocation.Event{EventID: se.ID, Type: se.Type, Value: se.Value, Reason: se.Reason}
	if !se.TS.IsZero() {
		e.TS = se.TS.UnixMilli()
	}
	if !se.ExpiresAt.IsZero() {
		e.ExpiresAt = se.ExpiresAt.UnixMilli()
	}
	return c.deliver(ctx, ps, r, e)
}

// handleUnsigned is handleRecord in UnsignedOnly mode.
func (c *Consumer) handleUnsigned(ctx context.Context, ps *partState, r *kgo.Record) bool {
	if !seedRecord(r) {
		return true
	}
	if _, _, err := decodeWire(r.Value); err == nil {
		return true // a revocd event (signed): the node's own consumer takes it
	}
	se, err := DecodeSeedRecord(r.Value, time.Now())
	if err != nil {
		return true // malformed: the node's own consumer counts it
	}
	c.unsigned.Add(1)
	c.decoded.Add(1)
	if err := c.cfg.Unsigned(ctx, se); err != nil {
		if ctx.Err() != nil {
			ps.stoppedAt = r.Offset
			return false
		}
		c.handlerErrs.Add(1)
		c.log.Warn("kafka: consumer: unsigned seed-era record not applied; skipping",
			"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "id", se.ID, "err", err)
	}
	return true
}

// resetOffset is where a new group starts: the beginning of the topic,
// but its end for an UnsignedOnly consumer (see Config.UnsignedOnly).
func (c *Consumer) resetOffset() kgo.Offset {
	if c.cfg.UnsignedOnly {
		return kgo.NewOffset().AtEnd()
	}
	return kgo.NewOffset().AtStart()
}
