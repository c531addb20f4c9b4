package sqlitestore

import (
	"context"
	"database/sql"
	"math"

	"github.com/revocd/revocd/revocation"
)

// Write statements, prepared once on the writer connection.
const (
	stInsertEvent = iota
	stInsertTokenEvent
	stInsertRefresh
	stGetRefresh
	stRetireRefresh
	stRevokeFamily
	stRevokeSubject
	stRevokeOne
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
	stInsertEvent: `INSERT INTO revocation_events
		(event_id, type, value, ts, expires_at, reason, origin, seq, key_id, alg, sig, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (event_id) DO NOTHING`,
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
	stSetCursor: `INSERT INTO outbox_cursors (dest, last_id) VALUES (?, ?)
		ON CONFLICT (dest) DO UPDATE SET last_id = excluded.last_id`,
	stPutKV: `INSERT INTO kv (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
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
func (tx *Tx) InsertEvent(e *revocation.Event, receivedAtMs int64) (inserted bool, err error) {
	const op = "insert event"
	if tx.done {
		return false, wrap(op, ErrTxDone)
	}
	if e.Seq > math.MaxInt64 {
		return false, wrap(op, ErrSeqRange)
	}
	res, err := tx.stmt(stInsertEvent).ExecContext(tx.ctx,
		e.EventID, string(e.Type), e.Value, e.TS, e.ExpiresAt, e.Reason,
		e.Origin, int64(e.Seq), e.KeyID, e.Alg, e.Sig, receivedAtMs)
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
