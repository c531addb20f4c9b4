package audit

import (
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
)

// The audit writer's typed API: one struct per command, one per reply. Each
// command is executed inside the next group-commit transaction by the write
// rule of the same name (rules.go); its reply is sent, after the commit, to
// the actor that sent the command. A command that fails (a refused refresh,
// a failed transaction) is answered with *Failed.

// Ref is carried by a command and echoed in its reply, so the sender can
// route the reply on without keeping state: To is whoever the sender answers
// in the end (the original requester), ID the sender's own correlation id.
// The writer does not interpret either.
type Ref struct {
	To *actor.PID
	ID uint64
}

// CommitRevocation records a revocation event of the given type and value.
// Its lifetime is TTL when set, else the refresh token's expiry when Value
// is a known refresh jti, else MaxLifetime. A jti revocation also revokes the
// refresh-token state of that jti; a subject revocation reserves its cutoff
// in the index and revokes the subject's refresh tokens issued up to it.
// Reply: *Revoked.
type CommitRevocation struct {
	Ref
	Type        revocation.Type
	Value       string
	TTL         time.Duration
	Reason      string
	MaxLifetime time.Duration
}

// RevokeRefresh revokes one refresh token (logout) and records the
// revocation of its jti. Reply: *Revoked (also when an earlier command of
// the same group commit revoked it), or *AlreadyRevoked when the token's
// state shows it revoked before: then nothing is written.
type RevokeRefresh struct {
	Ref
	JTI       string
	ExpiresAt time.Time
}

// CreateRefresh stores a new refresh token (the first of its family).
// Reply: *RefreshCreated.
type CreateRefresh struct {
	Ref
	Row sqlitestore.RefreshToken
}

// RotateRefresh exchanges the refresh token OldJTI: it checks the token's
// state and binding, detects reuse (revoking the whole family), tolerates a
// retry within ReuseGrace, and stores the successor Next when rotation is
// on (Next nil: the client keeps its refresh token). Reply: *RefreshRotated,
// or *Failed with ErrRefreshUnknown, ErrRefreshRevoked, ErrBindingMismatch
// or ErrRefreshReused (the audit rows of such a refusal are committed).
type RotateRefresh struct {
	Ref
	OldJTI      string
	Subject     string
	BindingHash []byte
	// LegacyBindingHash, if set, is the binding's hash under the node's
	// former per-node binding key: rows stored before the key became
	// cluster-wide still match it (the successor is stored under
	// BindingHash).
	LegacyBindingHash []byte
	// AccessJTI is the jti of the access token issued with this exchange.
	AccessJTI string
	Next      *NextRefresh
	// ReuseGrace tolerates a client retry with a just-rotated token.
	ReuseGrace time.Duration
	// AccessTTL is the access-token lifetime: how long the revocations of
	// a reused family's access tokens must last.
	AccessTTL time.Duration
}

// NextRefresh is the successor refresh token of a rotation.
type NextRefresh struct {
	JTI       string
	ExpiresAt time.Time
}

// PutKeyRing stores the token key ring (kv entry RingKV of the issuer).
// Reply: *KeyRingStored.
type PutKeyRing struct {
	Ref
	Name string
	Blob []byte
}

// Record queues token events for the next commit without a reply.
type Record struct{ TokenEvents []sqlitestore.TokenEvent }

// ApplyRemote queues events received from other nodes (already verified by
// the receiver). Duplicates are ignored. Reply: *Result, carrying Ref back
// (the intake matches it to its delivery by Ref.ID).
type ApplyRemote struct {
	Ref
	Events []revocation.Event
}

// Revoked is the reply to CommitRevocation and RevokeRefresh: the committed
// event (signed, with origin and sequence) and LogID, the audit-log position
// of the batch's last event: once a destination's outbox cursor reaches it,
// the event was delivered there.
type Revoked struct {
	Ref
	Event revocation.Event
	LogID int64
}

// AlreadyRevoked is the reply to a RevokeRefresh of a token revoked before:
// nothing was written. EventID and LogID name the stored revocation event of
// the token's jti when there is one (see sqlitestore.Tx.JTIRevocation); both
// are zero when the token died otherwise (a subject revocation, or a
// revoke_jti with an explicit TTL).
type AlreadyRevoked struct {
	Ref
	EventID string
	LogID   int64
}

// RefreshCreated is the reply to CreateRefresh: the token's state is durable.
type RefreshCreated struct{ Ref }

// RefreshRotated is the reply to RotateRefresh: the exchange is durable.
// Subject is the token family's subject.
type RefreshRotated struct {
	Ref
	Subject string
}

// KeyRingStored is the reply to PutKeyRing: the ring is durable.
type KeyRingStored struct{ Ref }

// Failed is the reply to a command that was refused or not committed. Err
// wraps ErrUnavailable when the transaction failed (nothing of the batch
// was committed), else it is the write rule's refusal.
type Failed struct {
	Ref
	Err error
}

// Result is the reply to ApplyRemote.
type Result struct {
	Ref
	// Inserted is the number of newly inserted events.
	Inserted int
	Err      error
}

// Committed describes one committed batch. The writer sends it to every
// Config.Subscribers actor after the commit.
type Committed struct {
	// Events are the revocation events committed by this batch (local and
	// newly received), in commit order.
	Events []revocation.Event
	// LastID is the audit-log position of the last committed event (0 if
	// the batch held no event).
	LastID int64
	// TokenEvents are the token audit rows committed by this batch.
	TokenEvents []sqlitestore.TokenEvent
}

// command is the closed set of commands a group commit executes.
type command interface {
	// apply runs the command's write rule inside the batch's transaction.
	apply(b *batch) outcome
}

// outcome is what a write rule produced: a new event (answered with
// *Revoked once signed and committed), another reply, or a refusal.
type outcome struct {
	ev    *revocation.Event
	reply any
	err   error
}
