// Package revocation defines the domain types shared by every part of revocd:
// the revocation kinds, the revocation event that is committed, signed and
// propagated, and its canonical byte encoding.
//
// The package is pure: it performs no I/O and imports no network library.
package revocation

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Type names what a revocation applies to. The string values are the seed's
// API values for the "type" field of POST /revoke.
type Type string

// The three revocation types of the seed API.
const (
	// TypeJTI revokes one token by its "jti" claim.
	TypeJTI Type = "revoke_jti"
	// TypeSub revokes every token of a subject issued at or before the revocation.
	TypeSub Type = "revoke_sub"
	// TypeKid revokes every token signed with a key id.
	TypeKid Type = "revoke_kid"
)

// The replicated-state types: events that carry cluster state in the signed
// log rather than a revocation. They are never accepted by POST /revoke,
// never written to Redis and never applied to the revocation index; their
// payload is Event.Data.
const (
	// TypeKeyState publishes a token signing key's public part (or, for
	// HS256, its secret sealed for the cluster) and its lifecycle; Value is
	// the key id.
	TypeKeyState Type = "key_state"
	// TypeRefreshState replicates refresh-token rotation state; Value is the
	// refresh token's jti.
	TypeRefreshState Type = "refresh_state"
)

// Valid reports whether t is one of the three revocation types: the values
// POST /revoke accepts.
func (t Type) Valid() bool {
	switch t {
	case TypeJTI, TypeSub, TypeKid:
		return true
	}
	return false
}

// IsState reports whether t is a replicated-state type (TypeKeyState,
// TypeRefreshState) rather than a revocation.
func (t Type) IsState() bool {
	return t == TypeKeyState || t == TypeRefreshState
}

// Known reports whether t is a revocation type or a replicated-state type:
// the types an event of the signed log may have.
func (t Type) Known() bool { return t.Valid() || t.IsState() }

// RedisPrefix returns the seed's Redis key prefix for t ("revoked:jti:", ...).
func (t Type) RedisPrefix() string {
	switch t {
	case TypeJTI:
		return "revoked:jti:"
	case TypeSub:
		return "revoked:sub:"
	case TypeKid:
		return "revoked:kid:"
	}
	return ""
}

// SigAlg is the event signature algorithm name carried in Event.Alg.
const SigAlg = "ML-DSA-65"

// MaxValueLen bounds Event.Value (a jti, subject or key id) in bytes.
const MaxValueLen = 1024

// MaxReasonLen bounds Event.Reason in bytes.
const MaxReasonLen = 1024

// MaxDataLen bounds Event.Data in bytes (a state event's payload: an
// ML-DSA-65 public key is 1,952 bytes).
const MaxDataLen = 16 << 10

// Errors returned by Event.Validate.
var (
	ErrUnknownType = errors.New("revocation: unknown type")
	ErrEmptyValue  = errors.New("revocation: empty value")
	ErrTooLong     = errors.New("revocation: field too long")
	// ErrUnexpectedData is returned for a revocation event carrying Data,
	// or a state event without it.
	ErrUnexpectedData = errors.New("revocation: data does not match the type")
)

// Event is one revocation as committed to the audit log and propagated to
// Redis, Kafka, peers and subscribers.
//
// Times are Unix milliseconds. ExpiresAt is when the revocation may be
// forgotten everywhere (0 never happens for committed events: the revocation
// actor always sets a lifetime). Origin and Seq identify the event's place in
// its origin node's log; Seq starts at 1 and has no gaps per origin.
//
// KeyID, Alg and Sig are the ML-DSA-65 signature over Canonical(e); Sig's
// format is owned by crypto/eventsig.
//
// Data is the payload of a replicated-state event (see Type.IsState): empty
// for the revocation types, required for the state types. Its format is
// owned by the package that produces the type.
type Event struct {
	EventID   string `json:"event_id"`
	Type      Type   `json:"type"`
	Value     string `json:"value"`
	TS        int64  `json:"ts"`
	ExpiresAt int64  `json:"expires_at"`
	Reason    string `json:"reason"`
	Origin    string `json:"origin"`
	Seq       uint64 `json:"seq"`
	KeyID     string `json:"key_id"`
	Alg       string `json:"alg"`
	Sig       []byte `json:"sig"`
	Data      []byte `json:"data,omitempty"`
}

// Time returns TS as a time.Time.
func (e *Event) Time() time.Time { return time.UnixMilli(e.TS) }

// Expiry returns ExpiresAt as a time.Time.
func (e *Event) Expiry() time.Time { return time.UnixMilli(e.ExpiresAt) }

// SubCutoff returns, for a TypeSub event, the Unix second at or before which
// a token's "iat" makes it revoked: TS/1000, the same on every node.
//
// The origin node reserves the cutoff under its revocation index's subject
// lock (index.Index.ReserveSubCutoff) and sets TS so that TS/1000 is that
// cutoff: every token it issued before the revocation has iat <= cutoff and
// every token it issues afterwards iat > cutoff, even within one second. To
// separate several revocations of a subject within one second, the cutoff,
// and so TS, may lie a few seconds ahead of the commit time (one second per
// revocation of the subject in the same second; ExpiresAt is counted from
// TS). Events of older versions carry TS = commit time (their cutoff is the
// commit's second); a Redis value of "1" means every token.
func (e *Event) SubCutoff() int64 { return e.TS / 1000 }

// Validate checks the fields a receiver must trust before applying an event:
// a known type, a non-empty bounded value, a bounded reason, and Data present
// exactly for the state types (bounded by MaxDataLen).
func (e *Event) Validate() error {
	if !e.Type.Known() {
		return fmt.Errorf("%w %q", ErrUnknownType, e.Type)
	}
	if e.Value == "" {
		return ErrEmptyValue
	}
	if len(e.Value) > MaxValueLen || len(e.Reason) > MaxReasonLen ||
		len(e.EventID) > 64 || len(e.Origin) > 256 || len(e.KeyID) > 256 ||
		len(e.Data) > MaxDataLen {
		return ErrTooLong
	}
	if e.Type.IsState() != (len(e.Data) > 0) {
		return fmt.Errorf("%w: %s with %d bytes of data", ErrUnexpectedData, e.Type, len(e.Data))
	}
	return nil
}

// Canonical returns the canonical encoding of every field except Sig: the
// bytes the event signature covers. Each string is length-prefixed (uvarint)
// and each integer is 8 bytes big-endian, behind the domain separator
// "revocd/event/v1", so no two distinct events share an encoding. An event
// with Data uses the separator "revocd/event/v2" and appends Data
// (length-prefixed) after Alg; events without Data keep the v1 encoding, so
// every signature made before state events existed still verifies.
func (e *Event) Canonical() []byte {
	return e.AppendCanonical(make([]byte, 0, 104+len(e.EventID)+len(e.Value)+len(e.Reason)+len(e.Origin)+len(e.KeyID)+len(e.Data)))
}

// AppendCanonical appends Canonical(e) to dst and returns the extended slice.
func (e *Event) AppendCanonical(dst []byte) []byte {
	if len(e.Data) > 0 {
		dst = appendString(dst, "revocd/event/v2")
	} else {
		dst = appendString(dst, "revocd/event/v1")
	}
	dst = appendString(dst, e.EventID)
	dst = appendString(dst, string(e.Type))
	dst = appendString(dst, e.Value)
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.TS))
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.ExpiresAt))
	dst = appendString(dst, e.Reason)
	dst = appendString(dst, e.Origin)
	dst = binary.BigEndian.AppendUint64(dst, e.Seq)
	dst = appendString(dst, e.KeyID)
	dst = appendString(dst, e.Alg)
	if len(e.Data) > 0 {
		dst = appendString(dst, string(e.Data))
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}
