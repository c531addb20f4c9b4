package server

import (
	"context"

	"github.com/anthdm/hollywood/actor"

	"github.com/revocd/revocd/actors/audit"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/transport/httpapi"
)

// feedLogView is the read side of the audit log the event stream and the
// active-revocations snapshot use (httpapi.FeedLog), over the SQLite store.
type feedLogView struct{ store *sqlitestore.Store }

var _ httpapi.FeedLog = feedLogView{}

// EventsAfter implements httpapi.FeedLog.
func (v feedLogView) EventsAfter(ctx context.Context, after int64, limit int) ([]httpapi.LoggedEvent, error) {
	return auditLogView(v).EventsAfter(ctx, after, limit)
}

// LastEventID implements httpapi.FeedLog.
func (v feedLogView) LastEventID(ctx context.Context) (int64, error) {
	return v.store.LastEventID(ctx)
}

// ActiveEventsPage implements httpapi.FeedLog.
func (v feedLogView) ActiveEventsPage(ctx context.Context, nowMs, after, upto int64, limit int) ([]httpapi.LoggedEvent, error) {
	rows, err := v.store.ActiveEventsPage(ctx, nowMs, after, upto, limit)
	if err != nil {
		return nil, err
	}
	out := make([]httpapi.LoggedEvent, len(rows))
	for i, r := range rows {
		out[i] = httpapi.LoggedEvent{ID: r.ID, Event: r.Event}
	}
	return out, nil
}

// feedWaker is the audit writer subscriber that wakes the open event
// streams after every commit (httpapi.Notifier.Notify never blocks).
type feedWaker struct{ n *httpapi.Notifier }

func newFeedWaker(n *httpapi.Notifier) actor.Producer {
	return func() actor.Receiver { return &feedWaker{n: n} }
}

// Receive implements actor.Receiver.
func (w *feedWaker) Receive(c *actor.Context) {
	if m, ok := c.Message().(*audit.Committed); ok {
		w.n.Notify(m.LastID)
	}
}
