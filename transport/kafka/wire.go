package kafka

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/revocation"
)

// Record formats of the revocation topic (see the README, "Kafka record
// format"). Format 1 is the seed-era record: the value is the event's JSON
// with the whole Sig. Format 2 keeps the same JSON fields but its "sig"
// holds only the event's own part of the signature (leaf index, leaf count,
// Merkle proof; eventsig.SplitSig's rest) and adds "format": 2 and "batch",
// a reference to the batch signature. The batch signature
// (eventsig.BatchSigSize bytes) travels once per (batch, partition, publish)
// in the HeaderBatchSig header of the batch's last record in that
// partition; the full Sig is eventsig.JoinSig(header, sig).
const (
	// FormatSplit is the value of "format" in a format-2 record.
	FormatSplit = 2
	// HeaderBatchSig names the record header carrying a batch signature.
	HeaderBatchSig = "revocd-batch-sig"
	// HeaderOrigin names the record header carrying the event's origin, so
	// that a node skips its own events without decoding them.
	HeaderOrigin = "revocd-origin"
	// batchRefBytes is the length of the SHA-256 prefix that names a batch
	// signature in "batch" (base64url, unpadded).
	batchRefBytes = 12
)

// ErrSplitRecord is returned by DecodeEvent for a format-2 record: its
// signature is completed by a record header, so it must be read with a
// Consumer (or DecodeRecord).
var ErrSplitRecord = errors.New("kafka: format-2 record: the batch signature is in a record header")

// batchRef names a batch signature: base64url(SHA-256(batchSig)[:12]).
func batchRef(batchSig []byte) string {
	h := sha256.Sum256(batchSig)
	return base64.RawURLEncoding.EncodeToString(h[:batchRefBytes])
}

// splitTail is appended to the event JSON of a format-2 record.
func splitTail(ref string) []byte {
	return []byte(`,"format":2,"batch":"` + ref + `"}`)
}

// encodeSplit returns the format-2 value of e whose Sig's per-event part is
// rest: the event's JSON with "sig" = rest plus "format" and "batch".
func encodeSplit(e *revocation.Event, rest []byte, tail []byte) ([]byte, error) {
	c := *e
	c.Sig = rest
	v, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	if len(v) == 0 || v[len(v)-1] != '}' {
		return nil, errors.New("unexpected event encoding")
	}
	return append(v[:len(v)-1], tail...), nil
}

// header returns the value of the first header of r named key.
func header(r *kgo.Record, key string) ([]byte, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return nil, false
}

// decodeWire decodes a record value of either format. ref is empty for a
// format-1 record (e.Sig is the whole signature) and names the batch
// signature of a format-2 record (e.Sig is then only the event's part).
func decodeWire(b []byte) (e *revocation.Event, ref string, err error) {
	if len(b) > MaxEventBytes {
		return nil, "", fmt.Errorf("kafka: decode event: %d bytes exceeds limit of %d", len(b), MaxEventBytes)
	}
	var w wireEvent
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, "", fmt.Errorf("kafka: decode event: %w", err)
	}
	e, err = w.event()
	if err != nil {
		return nil, "", err
	}
	switch {
	case w.Format == nil || *w.Format == 1:
		if w.Batch != nil {
			return nil, "", fmt.Errorf("kafka: decode event %q: \"batch\" in a format-1 record", e.EventID)
		}
		return e, "", nil
	case *w.Format == FormatSplit:
		if w.Batch == nil || *w.Batch == "" || len(*w.Batch) > 64 {
			return nil, "", fmt.Errorf("kafka: decode event %q: format 2 without a valid \"batch\"", e.EventID)
		}
		return e, *w.Batch, nil
	default:
		return nil, "", fmt.Errorf("kafka: decode event %q: unknown format %d", e.EventID, *w.Format)
	}
}

// DecodeRecord decodes a revocation record's value and, for a format-2
// record, completes its signature with batchSig, the HeaderBatchSig of the
// batch's last record in the partition (nil for a format-1 record). It
// checks that batchSig is the one the record names; it does not verify the
// signature. It is pure, safe for concurrent use, and never panics.
func DecodeRecord(value, batchSig []byte) (*revocation.Event, error) {
	e, ref, err := decodeWire(value)
	if err != nil {
		return nil, err
	}
	if ref == "" {
		return e, nil
	}
	if err := joinBatchSig(e, ref, batchSig); err != nil {
		return nil, err
	}
	return e, nil
}

// errForgedHeader reports a batch signature header that does not match the
// reference of the records it should complete.
var errForgedHeader = errors.New("kafka: batch signature header does not match the records' batch reference")

// joinBatchSig replaces e.Sig (the event's part) with the whole Sig.
func joinBatchSig(e *revocation.Event, ref string, batchSig []byte) error {
	if len(batchSig) != eventsig.BatchSigSize || batchRef(batchSig) != ref {
		return fmt.Errorf("%w: event %q", errForgedHeader, e.EventID)
	}
	sig := eventsig.JoinSig(batchSig, e.Sig)
	if _, _, ok := eventsig.SplitSig(sig); !ok {
		return fmt.Errorf("kafka: decode event %q: malformed signature proof", e.EventID)
	}
	e.Sig = sig
	return nil
}

// sameBytes reports whether a and b are the same slice (same first byte
// and length) or equal, cheaply for the common case of aliasing.
func sameBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return bytes.Equal(a, b)
}
