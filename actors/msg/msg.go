// Package msg holds the typed messages of the write path that cross from the
// HTTP layer into the actors: the requests a handler sends to the issuer and
// revocation actors, their answers, and the errors an answer can carry.
//
// The actors declare them under their own names (issuer.Refresh is
// msg.Refresh, revoker.Revoke is msg.Revoke); they live here so that a
// handler can speak to an actor without depending on its implementation,
// the audit writer or SQLite (the layering test fences transport/httpapi
// off persistence/ and actors/audit). The package depends only on the
// domain types.
//
// Every request is answered with exactly one message: the answer type named
// in its doc, or *Failed.
package msg

import (
	"errors"
	"time"

	"github.com/revocd/revocd/revocation"
)

// ErrUnavailable is the error of a *Failed answer whose audit-log
// transaction failed: nothing of the request was recorded.
var ErrUnavailable = errors.New("audit: audit log unavailable")

// Refusals of a refresh (the error of a *Failed answer to Refresh). Their
// texts are for logs; the HTTP layer maps them to the texts clients see
// (transport/httpapi's errorTable).
var (
	// ErrRefreshUnknown: the audit log has no state for the refresh token.
	ErrRefreshUnknown = errors.New("msg: refresh token unknown")
	// ErrRefreshRevoked: the refresh token (or its family) is revoked.
	ErrRefreshRevoked = errors.New("msg: refresh token revoked")
	// ErrBindingMismatch: the client binding differs from the one the
	// refresh token was created with.
	ErrBindingMismatch = errors.New("msg: client binding mismatch")
	// ErrRefreshReused: a retired refresh token was presented again after
	// the grace period; its family has been revoked.
	ErrRefreshReused = errors.New("msg: refresh token reused; family revoked")
)

// Failed answers a request that was refused or not recorded. ID echoes the
// request's correlation id where it has one (RotateKey.ID).
type Failed struct {
	ID  uint64
	Err error
}

// IssueAccess asks the issuer for an access token. Answer: *Issued.
type IssueAccess struct {
	Subject string
	TTL     time.Duration
	Extra   map[string]any
	// Jkt, if set, binds the token to a DPoP key ("cnf":{"jkt":...}).
	Jkt string
}

// CreateRefresh asks the issuer for a bound refresh token plus an access
// token. Answer: *Pair, once the refresh token's state is durable.
type CreateRefresh struct {
	Subject     string
	BindingHash []byte
	Extra       map[string]any
	// Jkt, if set, binds both tokens to a DPoP key ("cnf":{"jkt":...}).
	Jkt string
}

// Refresh exchanges a verified refresh token for new tokens. Answer: *Pair
// once the exchange is durable, or *Failed with ErrRefreshUnknown,
// ErrRefreshRevoked, ErrBindingMismatch or ErrRefreshReused.
type Refresh struct {
	OldJTI      string
	Subject     string
	BindingHash []byte
	// LegacyBindingHash is the binding's hash under the node's former
	// per-node binding key, if it has one (see audit.RotateRefresh).
	LegacyBindingHash []byte
	AccessJTI         string
	Extra             map[string]any
	// Jkt, if set, binds the new tokens to a DPoP key ("cnf":{"jkt":...}).
	Jkt string
}

// RotateKey asks the issuer to make a fresh key current. With IfCurrent
// set, it rotates only when that kid is the current key (revoke_kid of the
// signing key), and always removes IfCurrent from the ring. Answer:
// *Rotated once the ring is durable, carrying ID back.
type RotateKey struct {
	IfCurrent string
	// ID is the requester's correlation id, echoed in the answer.
	ID uint64
}

// Issued is one signed token.
type Issued struct {
	Token     string
	JTI       string
	ExpiresIn int64 // seconds
	ExpiresAt time.Time
}

// Pair is a refresh token and an access token. Refresh is nil when rotation
// is off and the client keeps its refresh token.
type Pair struct {
	Access  Issued
	Refresh *Issued
	Subject string
}

// Rotated answers RotateKey: the ring is durable. Rotated reports whether a
// fresh key became current; Kid is the current key.
type Rotated struct {
	ID      uint64
	Rotated bool
	Kid     string
}

// Revoke asks the revocation actor for a revocation. Answer: *Revoked.
type Revoke struct {
	Type   revocation.Type
	Value  string
	TTL    time.Duration // 0: until the token's expiry when known, else the longest token lifetime
	Reason string
}

// RevokeRefresh asks the revocation actor to revoke one refresh token
// (logout). Answer: *Revoked with the event of the refresh jti (also when an
// earlier request of the same group commit revoked it), or *AlreadyRevoked
// when this node's refresh-token state shows the token revoked already
// (then nothing is written).
type RevokeRefresh struct {
	JTI       string
	ExpiresAt time.Time
}

// Revoked answers a revocation: the committed event, and LogID, the
// audit-log position whose delivery to a destination makes it published
// there.
type Revoked struct {
	Event revocation.Event
	LogID int64
}

// AlreadyRevoked answers a RevokeRefresh of a token revoked before: nothing
// was written. EventID and LogID (its audit-log position) name the stored
// revocation event of the token's jti when there is one; both are zero
// when the token died otherwise (a subject revocation, or a revoke_jti with
// an explicit TTL).
type AlreadyRevoked struct {
	EventID string
	LogID   int64
}

// AwaitDelivered asks a destination's outbox actor (the Kafka bridge) to
// answer once its delivery cursor reaches LogID, an audit-log position
// (Revoked.LogID), or once Deadline passes, whichever comes first. The
// actor keeps the request as a pending waiter; it holds no goroutine for
// it. Answer: *Delivered.
type AwaitDelivered struct {
	LogID    int64
	Deadline time.Time
}

// Delivered answers AwaitDelivered: OK reports whether the destination
// acknowledged the audit log up to LogID by the deadline.
type Delivered struct {
	LogID int64
	OK    bool
}
