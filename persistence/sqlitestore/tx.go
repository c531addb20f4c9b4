package sqlitestore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/revocation"
)

// Write statements, prepared once on the writer connection.
const (
	stInsertEvent = iota
	stInsertEvents8
	stInsertEvents64
	stInsertSig
	stGetSig
	stInsertTokenEvent
	stInsertRefresh
	stGetRefresh
	stRetireRefresh
	stRevokeFamily
	stRevokeSubject
	stRevokeOne
	stSupersede
	stJTIRevocation
	stSetCursor
	stPutKV
	numWriteStmts
)

// refreshCols is the column list every refresh_tokens read scans with
// scanRefresh; NULLs come back as the Go zero values.
const refreshCols = `jti, subject, family_id, COALESCE(parent_jti, ''), binding_hash,
	issued_at, expires_at, revoked, COALESCE(retired_at, 0), COALESCE(replaced_by, ''),
	COALESCE(access_jti, ''), COALESCE(revoked_reason, '')`

var writeSQL = [numWriteStmts]string{
	// ON CONFLICT(event_id) DO NOTHING, not INSERT OR IGNORE: only a
	// duplicate event_id is ignored; a different event at a taken
	// (origin, seq) still fails, with ErrSeqConflict.
	stInsertEvent:      insertEventsSQL(1),
	stInsertEvents8:    insertEventsSQL(8),
	stInsertEvents64:   insertEventsSQL(64),
	stInsertSig:        `INSERT INTO event_signatures (hash, sig) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING`,
	stGetSig:           `SELECT id, sig FROM event_signatures WHERE hash = ?`,
	stInsertTokenEvent: `INSERT INTO token_events (ts, event, subject, jti, detail) VALUES (?, ?, ?, ?, ?)`,
	stInsertRefresh: `INSERT INTO refresh_tokens
		(jti, subject, family_id, parent_jti, binding_hash, issued_at, expires_at,
		 revoked, retired_at, replaced_by, access_jti, revoked_reason)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	stGetRefresh: `SELECT ` + refreshCols + ` FROM refresh_tokens WHERE jti = ?`,
	stRetireRefresh: `UPDATE refresh_tokens SET retired_at = ?, replaced_by = ?
		WHERE jti = ? AND retired_at IS NULL AND revoked = 0`,
	stRevokeFamily: `UPDATE refresh_tokens SET revoked = 1, revoked_reason = ?
		WHERE family_id = ? AND revoked = 0 RETURNING ` + refreshCols,
	stRevokeSubject: `UPDATE refresh_tokens SET revoked = 1, revoked_reason = ?
		WHERE subject = ? AND issued_at <= ? AND revoked = 0 RETURNING ` + refreshCols,
	stRevokeOne: `UPDATE refresh_tokens SET revoked = 1, revoked_reason = ?
		WHERE jti = ? AND revoked = 0 RETURNING ` + refreshCols,
	stSupersede: `UPDATE refresh_tokens SET replaced_by = ?
		WHERE jti = ? AND retired_at IS NOT NULL AND revoked = 0`,
	stJTIRevocation: jtiRevocationSQL,
	stSetCursor: `INSERT INTO outbox_cursors (dest, last_id) VALUES (?, ?)
		ON CONFLICT (dest) DO UPDATE SET last_id = excluded.last_id`,
	stPutKV: `INSERT INTO kv (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
}

// insertEventsSQL returns the INSERT of n event rows.
func insertEventsSQL(n int) string {
	const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	return `INSERT INTO revocation_events
		(event_id, type, value, ts, expires_at, reason, origin, seq, key_id, alg, sig, sig_id, received_at, data)
		VALUES ` + strings.Repeat(row+", ", n-1) + row + `
		ON CONFLICT (event_id) DO NOTHING`
}

// Tx is one write transaction on the single writer connection: a group
// commit. It is NOT safe for concurrent use; one goroutine (the committer)
// owns it from Begin to Commit or Rollback.
//
// A statement that fails (for example ErrSeqConflict or ErrRefreshExists)
// undoes only itself; the transaction stays usable and the caller decides
// whether to commit the rest.
type Tx struct {
	s    *Store
	ctx  context.Context
	tx   *sql.Tx
	st   [numWriteStmts]*sql.Stmt
	done bool

	// Batch signatures this transaction has stored or looked up, so the
	// events of one batch cost one event_signatures statement in all:
	// lastSig (a copy) and lastSigID are the most recent batch, compared
	// without hashing; sigIDs holds every batch by SHA-256.
	lastSig   []byte
	lastSigID int64
	sigIDs    map[[sha256.Size]byte]int64

	args []any // reused INSERT parameter buffer, cleared after each use
}

// Begin starts a write transaction (BEGIN IMMEDIATE: it owns the write lock
// from here on). It waits while another Tx of this Store is open, so keep
// transactions short. ctx governs the whole transaction: once ctx is done,
// the transaction is rolled back and later calls fail, so pass the
// committer's own context, not a request's. Safe for concurrent use.
func (s *Store) Begin(ctx context.Context) (*Tx, error) {
	t, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrap("begin", err)
	}
	// Statements run under a context without cancellation: a done ctx
	// already rolls the whole transaction back (database/sql watches it), and
	// a cancellable context would cost the driver a watcher goroutine per
	// statement on the group-commit hot path.
	return &Tx{s: s, ctx: context.WithoutCancel(ctx), tx: t}, nil
}

// stmt returns write statement i bound to this transaction, reusing the
// statement already compiled on the writer connection.
func (tx *Tx) stmt(i int) *sql.Stmt {
	if tx.st[i] == nil {
		tx.st[i] = tx.tx.StmtContext(tx.ctx, tx.s.ws[i])
	}
	return tx.st[i]
}

// Commit makes every change of the transaction durable: it returns nil only
// after the WAL has been fsynced (synchronous=FULL), so the changes survive a
// process kill and a power loss. On error nothing may be acknowledged.
func (tx *Tx) Commit() error {
	if tx.done {
		return wrap("commit", ErrTxDone)
	}
	tx.done = true
	if err := tx.tx.Commit(); err != nil {
		return wrap("commit", err)
	}
	tx.s.dirty.Store(true)
	return nil
}

// Rollback discards the transaction. After Commit or Rollback it is a no-op
// returning nil, so "defer tx.Rollback()" is the intended use.
func (tx *Tx) Rollback() error {
	if tx.done {
		return nil
	}
	tx.done = true
	return wrap("rollback", tx.tx.Rollback())
}

// InsertEvent appends e to the audit log (and so to every destination's
// outbox backlog) with the local receive time receivedAtMs. It reports
// inserted=false, without error, when e.EventID is already stored: inserting
// is idempotent. A different event at an already stored (Origin, Seq) fails
// with ErrSeqConflict; Seq above math.MaxInt64 with ErrSeqRange. The caller
// validates e (revocation.Event.Validate) and its signature beforehand.
//
// A Sig in eventsig's format is stored split (eventsig.SplitSig): its batch
// signature once per distinct batch in event_signatures, shared by every
// event of the batch in this and later transactions, and only the event's
// own remainder in the event row. Any other Sig (none, or not of that
// format) is stored whole, as before schema version 2. Reads return the
// original Sig either way.
func (tx *Tx) InsertEvent(e *revocation.Event, receivedAtMs int64) (inserted bool, err error) {
	const op = "insert event"
	if tx.done {
		return false, wrap(op, ErrTxDone)
	}
	args, err := tx.appendEventArgs(tx.args[:0], e, receivedAtMs)
	defer func() { clear(args); tx.args = args[:0] }()
	if err != nil {
		return false, wrap(op, err)
	}
	res, err := tx.stmt(stInsertEvent).ExecContext(tx.ctx, args...)
	if err != nil {
		if isUniqueViolation(err) {
			return false, wrap(op, ErrSeqConflict)
		}
		return false, wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrap(op, err)
	}
	return n == 1, nil
}

// InsertEvents inserts evs in order with the same semantics as calling
// InsertEvent for each and stopping at the first error, but with
// multi-row statements, which costs about a quarter less CPU per event.
// inserted[i] reports whether evs[i] was new; on error, inserted covers the
// events before the failing one (which are inserted; the failing one is
// not), and the transaction stays usable.
func (tx *Tx) InsertEvents(evs []*revocation.Event, receivedAtMs int64) (inserted []bool, err error) {
	const op = "insert events"
	if tx.done {
		return nil, wrap(op, ErrTxDone)
	}
	inserted = make([]bool, 0, len(evs))
	for len(evs) > 0 {
		var st, n int
		switch {
		case len(evs) >= 64:
			st, n = stInsertEvents64, 64
		case len(evs) >= 8:
			st, n = stInsertEvents8, 8
		default:
			ok, err := tx.InsertEvent(evs[0], receivedAtMs)
			if err != nil {
				return inserted, err
			}
			inserted = append(inserted, ok)
			evs = evs[1:]
			continue
		}
		chunk := evs[:n]
		ok, err := tx.insertChunk(st, chunk, receivedAtMs, inserted)
		if err != nil {
			return inserted, wrap(op, err)
		}
		if !ok {
			// A seq conflict or range error somewhere in the chunk: the
			// statement undid itself; find the culprit one row at a time.
			for _, e := range chunk {
				ok, err := tx.InsertEvent(e, receivedAtMs)
				if err != nil {
					return inserted, err
				}
				inserted = append(inserted, ok)
			}
		} else {
			inserted = inserted[:len(inserted)+n]
		}
		evs = evs[n:]
	}
	return inserted, nil
}

// insertChunk inserts chunk with the multi-row statement st and records
// which rows were new in inserted[len(inserted):len(inserted)+len(chunk)]
// (within its capacity). ok is false, with nothing inserted, when a row
// must go through InsertEvent for its error.
func (tx *Tx) insertChunk(st int, chunk []*revocation.Event, receivedAtMs int64, inserted []bool) (ok bool, err error) {
	args := tx.args[:0]
	defer func() { clear(args); tx.args = args[:0] }()
	for _, e := range chunk {
		if e.Seq > math.MaxInt64 {
			return false, nil
		}
		if args, err = tx.appendEventArgs(args, e, receivedAtMs); err != nil {
			return false, err
		}
	}
	res, err := tx.stmt(st).ExecContext(tx.ctx, args...)
	if err != nil {
		if isUniqueViolation(err) {
			return false, nil
		}
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	flags := inserted[len(inserted) : len(inserted)+len(chunk)]
	if int(n) == len(chunk) {
		for i := range flags {
			flags[i] = true
		}
		return true, nil
	}
	clear(flags)
	if n == 0 {
		return true, nil
	}
	// Some event ids were already stored (or repeated within chunk). The
	// n rows this statement inserted got ids above every earlier row (ids
	// are AUTOINCREMENT, though skipped rows leave gaps), the last one
	// LastInsertId: they are the n highest ids up to it. The first
	// occurrence of each of their event ids in chunk is the inserted one.
	last, err := res.LastInsertId()
	if err != nil {
		return false, err
	}
	rows, err := tx.tx.QueryContext(tx.ctx,
		`SELECT event_id FROM revocation_events WHERE id <= ? ORDER BY id DESC LIMIT ?`, last, n)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	fresh := make(map[string]bool, n)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return false, err
		}
		fresh[id] = true
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	for i, e := range chunk {
		if fresh[e.EventID] {
			flags[i] = true
			delete(fresh, e.EventID)
		}
	}
	return true, nil
}

// appendEventArgs appends the parameters of e's row (one "(?, ...)" of
// insertEventsSQL) to args, splitting an eventsig Sig (see InsertEvent).
func (tx *Tx) appendEventArgs(args []any, e *revocation.Event, receivedAtMs int64) ([]any, error) {
	if e.Seq > math.MaxInt64 {
		return args, ErrSeqRange
	}
	sig, sigID := e.Sig, any(nil)
	if batch, rest, ok := eventsig.SplitSig(e.Sig); ok {
		id, err := tx.batchSigID(batch)
		if err != nil {
			return args, err
		}
		sig, sigID = rest, id
	}
	// data is NULL for a revocation (no Data): the v1 rows stay as they were.
	var data any
	if len(e.Data) > 0 {
		data = e.Data
	}
	return append(args, e.EventID, string(e.Type), e.Value, e.TS, e.ExpiresAt, e.Reason,
		e.Origin, int64(e.Seq), e.KeyID, e.Alg, sig, sigID, receivedAtMs, data), nil
}

// batchSigID returns the event_signatures id of batch, storing batch first
// if it is not stored yet. Within the transaction it is remembered; across
// transactions the UNIQUE hash finds the stored row. A signature row whose
// events all turn out to be duplicates stays, unreferenced and harmless.
func (tx *Tx) batchSigID(batch []byte) (int64, error) {
	if tx.lastSigID != 0 && bytes.Equal(batch, tx.lastSig) {
		return tx.lastSigID, nil
	}
	h := sha256.Sum256(batch)
	id, ok := tx.sigIDs[h]
	if !ok {
		var err error
		if id, err = tx.storeBatchSig(&h, batch); err != nil {
			return 0, err
		}
		if tx.sigIDs == nil {
			tx.sigIDs = make(map[[sha256.Size]byte]int64, 1)
		}
		tx.sigIDs[h] = id
	}
	tx.lastSig = append(tx.lastSig[:0], batch...)
	tx.lastSigID = id
	return id, nil
}

// storeBatchSig inserts batch under its hash h unless a row with h exists,
// and returns the row's id.
func (tx *Tx) storeBatchSig(h *[sha256.Size]byte, batch []byte) (int64, error) {
	res, err := tx.stmt(stInsertSig).ExecContext(tx.ctx, h[:], batch)
	if err != nil {
		return 0, fmt.Errorf("store batch signature: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, fmt.Errorf("store batch signature: %w", err)
	} else if n == 1 {
		id, err := res.LastInsertId()
		if err != nil {
			return 0, fmt.Errorf("store batch signature: %w", err)
		}
		return id, nil
	}
	var (
		id     int64
		stored sql.RawBytes
	)
	rows, err := tx.stmt(stGetSig).QueryContext(tx.ctx, h[:])
	if err != nil {
		return 0, fmt.Errorf("look up batch signature: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, fmt.Errorf("look up batch signature: %w", err)
		}
		return 0, errors.New("look up batch signature: row vanished")
	}
	if err := rows.Scan(&id, &stored); err != nil {
		return 0, fmt.Errorf("look up batch signature: %w", err)
	}
	// A SHA-256 collision would otherwise attach a wrong signature.
	if !bytes.Equal(stored, batch) {
		return 0, fmt.Errorf("look up batch signature: stored signature with hash %x differs", h[:8])
	}
	return id, rows.Close()
}

// TokenEvent is one row of the token operation audit log (table
// token_events): issue, refresh, reuse_detected, refresh_revoke,
// binding_mismatch, ... TS is Unix milliseconds.
type TokenEvent struct {
	TS      int64
	Event   string
	Subject string
	JTI     string
	Detail  string
}

// InsertTokenEvent appends ev to the token audit log.
func (tx *Tx) InsertTokenEvent(ev TokenEvent) error {
	const op = "insert token event"
	if tx.done {
		return wrap(op, ErrTxDone)
	}
	_, err := tx.stmt(stInsertTokenEvent).ExecContext(tx.ctx, ev.TS, ev.Event, ev.Subject, ev.JTI, ev.Detail)
	return wrap(op, err)
}

// SetCursor records that destination dest has been delivered every event
// with id <= lastID. It overwrites, so a cursor can also be moved back to
// replay.
func (tx *Tx) SetCursor(dest string, lastID int64) error {
	const op = "set cursor"
	if tx.done {
		return wrap(op, ErrTxDone)
	}
	_, err := tx.stmt(stSetCursor).ExecContext(tx.ctx, dest, lastID)
	return wrap(op, err)
}

// PutKV stores value under name, replacing any previous value. Used for key
// material; value is stored as given (encrypting it is the caller's job).
func (tx *Tx) PutKV(name string, value []byte) error {
	const op = "put kv"
	if tx.done {
		return wrap(op, ErrTxDone)
	}
	if value == nil {
		value = []byte{}
	}
	_, err := tx.stmt(stPutKV).ExecContext(tx.ctx, name, value)
	return wrap(op, err)
}
