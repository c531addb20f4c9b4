package server

import (
	"context"

	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/transport/httpapi"
)

// auditLogView is the read side of the audit log the HTTP API uses
// (httpapi.AuditLog), over the SQLite store. It only reads.
type auditLogView struct{ store *sqlitestore.Store }

var _ httpapi.AuditLog = auditLogView{}

// EventsAfter implements httpapi.AuditLog.
func (v auditLogView) EventsAfter(ctx context.Context, after int64, limit int) ([]httpapi.LoggedEvent, error) {
	rows, err := v.store.EventsAfter(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]httpapi.LoggedEvent, len(rows))
	for i, r := range rows {
		out[i] = httpapi.LoggedEvent{ID: r.ID, Event: r.Event}
	}
	return out, nil
}

// JTIRevocation implements httpapi.AuditLog.
func (v auditLogView) JTIRevocation(ctx context.Context, jti string, expiresAtMs int64) (string, int64, bool, error) {
	return v.store.JTIRevocation(ctx, jti, expiresAtMs)
}

// RefreshState implements httpapi.AuditLog.
func (v auditLogView) RefreshState(ctx context.Context, jti string) (httpapi.RefreshState, bool, error) {
	row, ok, err := v.store.GetRefresh(ctx, jti)
	if err != nil || !ok {
		return httpapi.RefreshState{}, ok, err
	}
	return httpapi.RefreshState{Revoked: row.Revoked, Retired: row.RetiredAt != 0}, true, nil
}
