package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/revocation"
)

// Read statements, prepared on the query-only pool.
const (
	rsEventsAfter = iota
	rsFromOrigin
	rsMaxSeq
	rsCursor
	rsLastID
	rsGetKV
	rsGetRefresh
	rsCount
	numReadStmts
)

// eventCols is the full event column list scanned by scanEvent, from
// eventFrom: s.sig is the batch part of a split Sig, NULL for a row that
// holds its whole Sig in r.sig.
const eventCols = `r.id, r.event_id, r.type, r.value, r.ts, r.expires_at, r.reason, r.origin, r.seq,
	r.key_id, r.alg, r.sig, s.sig, r.received_at, r.data`

// eventFrom joins every event row to its batch signature, if any.
const eventFrom = ` FROM revocation_events r LEFT JOIN event_signatures s ON s.id = r.sig_id `

// notState keeps the replicated-state events (key_state, refresh_state)
// out of the active-revocation reads: they revoke nothing, and a refresh
// state lives as long as its token, so the index rebuild and the SDK
// snapshot would otherwise read one row per live refresh token. Unknown
// future revocation types still come through.
const notState = `type NOT IN ('` + string(revocation.TypeKeyState) + `', '` + string(revocation.TypeRefreshState) + `')`

// activeSQL is ActiveRevocations' scan, served from the covering index
// revocation_events_active alone. The three known types come back as the
// small integers activeType decodes, which cost no allocation per row.
const activeSQL = `SELECT
		CASE type WHEN 'revoke_jti' THEN 1 WHEN 'revoke_sub' THEN 2 WHEN 'revoke_kid' THEN 3 ELSE type END,
		value, ts, expires_at
	FROM revocation_events INDEXED BY revocation_events_active WHERE expires_at > ? AND ` + notState

var readSQL = [numReadStmts]string{
	rsEventsAfter: `SELECT ` + eventCols + eventFrom + `WHERE r.id > ? ORDER BY r.id LIMIT ?`,
	rsFromOrigin: `SELECT ` + eventCols + eventFrom + `
		WHERE r.origin = ? AND r.seq > ? ORDER BY r.seq LIMIT ?`,
	// A loose index scan over UNIQUE(origin, seq): one index probe per
	// origin instead of a scan of every event.
	rsMaxSeq: `WITH RECURSIVE o(origin) AS (
			SELECT MIN(origin) FROM revocation_events
			UNION ALL
			SELECT (SELECT MIN(origin) FROM revocation_events WHERE origin > o.origin)
			FROM o WHERE o.origin IS NOT NULL)
		SELECT origin, (SELECT MAX(seq) FROM revocation_events r WHERE r.origin = o.origin)
		FROM o WHERE origin IS NOT NULL`,
	rsCursor:     `SELECT last_id FROM outbox_cursors WHERE dest = ?`,
	rsLastID:     `SELECT COALESCE(MAX(id), 0) FROM revocation_events`,
	rsGetKV:      `SELECT value FROM kv WHERE name = ?`,
	rsGetRefresh: `SELECT ` + refreshCols + ` FROM refresh_tokens WHERE jti = ?`,
	rsCount:      `SELECT COUNT(*) FROM revocation_events`,
}

// DefaultLimit is the page size EventsAfter and EventsFromOrigin use when
// given limit <= 0.
const DefaultLimit = 1000

// StoredEvent is an audit-log event with its local position: ID is the
// revocation_events.id commit order the outbox and the feed page by, and
// ReceivedAt the local Unix-ms time it was stored.
type StoredEvent struct {
	ID         int64
	Event      revocation.Event
	ReceivedAt int64
}

// ActiveRevocations calls fn for every stored event with expires_at > nowMs,
// in expires_at order, streaming from one read snapshot; it is meant for the
// start-up rebuild of the in-memory index (audit.ApplyEvent). To stay fast
// on millions of rows it reads the covering index only and fills just Type,
// Value, TS and ExpiresAt; every other field is left empty (use EventsAfter
// for full rows). The *Event is reused between calls: fn must copy it (a
// struct copy suffices) to keep it. A non-nil error from fn stops the scan
// and is returned as is. Safe for concurrent use.
func (s *Store) ActiveRevocations(ctx context.Context, nowMs int64, fn func(*revocation.Event) error) error {
	const op = "active revocations"
	conn, err := s.r.Conn(ctx)
	if err != nil {
		return wrap(op, err)
	}
	defer conn.Close()
	var fnErr error
	// The scan talks to the driver directly: through database/sql every row
	// would cost a copy of each column and the per-row locking of sql.Rows;
	// the driver's freshly allocated value string is kept as is instead.
	err = conn.Raw(func(dc any) error {
		return scanActive(ctx, dc, nowMs, func(e *revocation.Event) error {
			if err := fn(e); err != nil {
				fnErr = err
				return err
			}
			return nil
		})
	})
	if fnErr != nil {
		return fnErr
	}
	return wrap(op, err)
}

// scanActive runs activeSQL on the driver connection dc and calls fn per row.
func scanActive(ctx context.Context, dc any, nowMs int64, fn func(*revocation.Event) error) error {
	pc, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return fmt.Errorf("driver connection %T cannot prepare with a context", dc)
	}
	st, err := pc.PrepareContext(ctx, activeSQL)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer st.Close()
	sq, ok := st.(driver.StmtQueryContext)
	if !ok {
		return fmt.Errorf("driver statement %T cannot query with a context", st)
	}
	rows, err := sq.QueryContext(ctx, []driver.NamedValue{{Ordinal: 1, Value: nowMs}})
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	var (
		e    revocation.Event
		dest [4]driver.Value
	)
	for {
		if err := rows.Next(dest[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return rows.Close()
			}
			return fmt.Errorf("next row: %w", err)
		}
		var ok1, ok2, ok3, ok4 bool
		e.Type, ok1 = activeType(dest[0])
		e.Value, ok2 = dest[1].(string)
		e.TS, ok3 = dest[2].(int64)
		e.ExpiresAt, ok4 = dest[3].(int64)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return fmt.Errorf("unexpected column types %T, %T, %T, %T", dest[0], dest[1], dest[2], dest[3])
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
}

// activeType decodes activeSQL's first column.
func activeType(v driver.Value) (revocation.Type, bool) {
	switch v := v.(type) {
	case int64:
		switch v {
		case 1:
			return revocation.TypeJTI, true
		case 2:
			return revocation.TypeSub, true
		case 3:
			return revocation.TypeKid, true
		}
	case string:
		return revocation.Type(v), true
	}
	return "", false
}

// internType returns the constant for a known type without allocating.
func internType(b []byte) revocation.Type {
	switch string(b) {
	case string(revocation.TypeJTI):
		return revocation.TypeJTI
	case string(revocation.TypeSub):
		return revocation.TypeSub
	case string(revocation.TypeKid):
		return revocation.TypeKid
	}
	return revocation.Type(b)
}

// scanEvent scans one row of eventCols, reassembling a split Sig.
func scanEvent(sc scanner) (StoredEvent, error) {
	var (
		se    StoredEvent
		e     = &se.Event
		typ   sql.RawBytes
		seq   int64
		sig   sql.RawBytes
		batch sql.RawBytes
		data  sql.RawBytes
	)
	err := sc.Scan(&se.ID, &e.EventID, &typ, &e.Value, &e.TS, &e.ExpiresAt, &e.Reason,
		&e.Origin, &seq, &e.KeyID, &e.Alg, &sig, &batch, &se.ReceivedAt, &data)
	if err != nil {
		return se, err
	}
	e.Type = internType(typ)
	e.Seq = uint64(seq)
	switch {
	case batch != nil:
		e.Sig = eventsig.JoinSig(batch, sig)
	case sig != nil:
		e.Sig = bytes.Clone(sig)
	}
	if len(data) > 0 {
		e.Data = bytes.Clone(data)
	}
	return se, nil
}

func (s *Store) queryEvents(ctx context.Context, op string, st int, args ...any) ([]StoredEvent, error) {
	rows, err := s.rs[st].QueryContext(ctx, args...)
	return collectEvents(op, rows, err)
}

// collectEvents scans every row of a query's result into StoredEvents and
// closes rows; err is the query's own error (rows is then nil).
func collectEvents(op string, rows *sql.Rows, err error) ([]StoredEvent, error) {
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []StoredEvent
	for rows.Next() {
		se, err := scanEvent(rows)
		if err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, se)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

// EventsAfter returns up to limit (DefaultLimit when limit <= 0) full events
// with id > afterID in id (local commit) order: an outbox destination's
// backlog after its cursor, or a page of the GET /revocations?after= feed.
// Safe for concurrent use.
func (s *Store) EventsAfter(ctx context.Context, afterID int64, limit int) ([]StoredEvent, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	return s.queryEvents(ctx, "events after", rsEventsAfter, afterID, limit)
}

// EventsFromOrigin returns up to limit (DefaultLimit when limit <= 0) events
// of origin with seq > afterSeq in seq order, for anti-entropy resends.
// Safe for concurrent use.
func (s *Store) EventsFromOrigin(ctx context.Context, origin string, afterSeq uint64, limit int) ([]revocation.Event, error) {
	if afterSeq >= math.MaxInt64 {
		return nil, nil
	}
	if limit <= 0 {
		limit = DefaultLimit
	}
	se, err := s.queryEvents(ctx, "events from origin", rsFromOrigin, origin, int64(afterSeq), limit)
	if err != nil || len(se) == 0 {
		return nil, err
	}
	out := make([]revocation.Event, len(se))
	for i := range se {
		out[i] = se[i].Event
	}
	return out, nil
}

// MaxSeqByOrigin returns, for every origin with stored events, the highest
// stored seq. It is derived from UNIQUE(origin, seq), so it counts events
// received out of order too: it is a high-water mark, not proof that no seq
// below it is missing. Safe for concurrent use.
func (s *Store) MaxSeqByOrigin(ctx context.Context) (map[string]uint64, error) {
	const op = "max seq by origin"
	rows, err := s.rs[rsMaxSeq].QueryContext(ctx)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	out := make(map[string]uint64)
	for rows.Next() {
		var origin string
		var seq int64
		if err := rows.Scan(&origin, &seq); err != nil {
			return nil, wrap(op, err)
		}
		out[origin] = uint64(seq)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

// Cursor returns the last event id delivered to dest, 0 when dest has no
// cursor yet. Safe for concurrent use.
func (s *Store) Cursor(ctx context.Context, dest string) (int64, error) {
	var id int64
	err := s.rs[rsCursor].QueryRowContext(ctx, dest).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, wrap("cursor", err)
}

// LastEventID returns the highest revocation_events.id, 0 for an empty log.
// Safe for concurrent use.
func (s *Store) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	err := s.rs[rsLastID].QueryRowContext(ctx).Scan(&id)
	return id, wrap("last event id", err)
}

// CountEvents returns the number of events in the audit log. It scans the
// smallest index (about 20 bytes per event): meant for stats, not hot paths.
// Safe for concurrent use.
func (s *Store) CountEvents(ctx context.Context) (int64, error) {
	var n int64
	err := s.rs[rsCount].QueryRowContext(ctx).Scan(&n)
	return n, wrap("count events", err)
}

// GetKV returns the value stored under name; ok is false when there is none.
// Safe for concurrent use.
func (s *Store) GetKV(ctx context.Context, name string) ([]byte, bool, error) {
	var v []byte
	err := s.rs[rsGetKV].QueryRowContext(ctx, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, wrap("get kv", err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}
