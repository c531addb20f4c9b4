package sqlitestore

import "context"

// activePageSQL is one page of ActiveEventsPage: walks the primary key, so
// pages are stable while events are being committed above uptoID.
const activePageSQL = `SELECT ` + eventCols + eventFrom + `
	WHERE r.id > ? AND r.id <= ? AND r.expires_at > ? AND r.` + notState + ` ORDER BY r.id LIMIT ?`

// ActiveEventsPage returns up to limit (DefaultLimit when limit <= 0) full
// events still in force at nowMs (expires_at > nowMs) whose audit-log
// position lies in (afterID, uptoID], in position order: one page of the
// active-revocations snapshot served to in-process validators. A client
// fixes uptoID at its first page (LastEventID) and pages with afterID =
// the last ID it got; events committed meanwhile lie above uptoID and reach
// it through the event stream resumed from uptoID, so snapshot plus stream
// miss nothing. Safe for concurrent use.
func (s *Store) ActiveEventsPage(ctx context.Context, nowMs, afterID, uptoID int64, limit int) ([]StoredEvent, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	rows, err := s.r.QueryContext(ctx, activePageSQL, afterID, uptoID, nowMs, limit)
	return collectEvents("active events page", rows, err)
}
