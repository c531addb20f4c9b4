package httpapi

import (
	"context"

	"github.com/revocd/revocd/revocation"
)

// AuditLog is the read side of the audit log the handlers need: the event
// feed (GET /revocations), the stored revocation of a refresh token logged
// out before (POST /token/refresh/revoke) and a refresh token's rotation
// state (POST /oauth2/introspect). server/ implements it over the SQLite
// store; the API never writes through it (writes go to the actors).
// Implementations must be safe for concurrent use.
type AuditLog interface {
	// EventsAfter returns up to limit committed events after audit-log
	// position after, in audit-log order.
	EventsAfter(ctx context.Context, after int64, limit int) ([]LoggedEvent, error)
	// JTIRevocation returns the stored revocation event of jti that lasts
	// at least until expiresAtMs, with its audit-log position.
	JTIRevocation(ctx context.Context, jti string, expiresAtMs int64) (eventID string, logID int64, found bool, err error)
	// RefreshState returns this node's rotation state of the refresh token
	// jti; found is false for a token this node does not know.
	RefreshState(ctx context.Context, jti string) (state RefreshState, found bool, err error)
}

// LoggedEvent is one committed revocation event and its audit-log position.
type LoggedEvent struct {
	ID    int64
	Event revocation.Event
}

// RefreshState is a refresh token's rotation state: revoked, or retired by
// a rotation (replaced by its successor).
type RefreshState struct {
	Revoked bool
	Retired bool
}
