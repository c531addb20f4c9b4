package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
)

// RefreshToken is one row of refresh_tokens: a refresh token and its place in
// its rotation family. Times are Unix milliseconds; RetiredAt is 0 while the
// token is the family's active one, and ReplacedBy names the child it was
// rotated into. AccessJTI is the access token issued alongside it.
type RefreshToken struct {
	JTI, Subject, FamilyID, ParentJTI string
	BindingHash                       []byte
	IssuedAt, ExpiresAt               int64
	Revoked                           bool
	RetiredAt                         int64
	ReplacedBy, AccessJTI             string
	RevokedReason                     string
}

// nullStr maps "" to SQL NULL for the optional columns.
func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullInt maps 0 to SQL NULL for the optional columns.
func nullInt(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

type scanner interface{ Scan(dest ...any) error }

// scanRefresh scans one row selected with refreshCols.
func scanRefresh(sc scanner) (RefreshToken, error) {
	var r RefreshToken
	var revoked int64
	err := sc.Scan(&r.JTI, &r.Subject, &r.FamilyID, &r.ParentJTI, &r.BindingHash,
		&r.IssuedAt, &r.ExpiresAt, &revoked, &r.RetiredAt, &r.ReplacedBy,
		&r.AccessJTI, &r.RevokedReason)
	r.Revoked = revoked != 0
	return r, err
}

// InsertRefresh stores a new refresh token. A taken JTI fails with
// ErrRefreshExists.
func (tx *Tx) InsertRefresh(r RefreshToken) error {
	const op = "insert refresh"
	if tx.done {
		return wrap(op, ErrTxDone)
	}
	revoked := 0
	if r.Revoked {
		revoked = 1
	}
	_, err := tx.stmt(stInsertRefresh).ExecContext(tx.ctx,
		r.JTI, r.Subject, r.FamilyID, nullStr(r.ParentJTI), r.BindingHash,
		r.IssuedAt, r.ExpiresAt, revoked, nullInt(r.RetiredAt), nullStr(r.ReplacedBy),
		nullStr(r.AccessJTI), nullStr(r.RevokedReason))
	if isUniqueViolation(err) {
		return wrap(op, ErrRefreshExists)
	}
	return wrap(op, err)
}

// GetRefresh reads a refresh token inside the transaction, seeing its own
// uncommitted changes; ok is false when jti is unknown.
func (tx *Tx) GetRefresh(jti string) (RefreshToken, bool, error) {
	const op = "get refresh"
	if tx.done {
		return RefreshToken{}, false, wrap(op, ErrTxDone)
	}
	return getRefresh(op, tx.stmt(stGetRefresh).QueryRowContext(tx.ctx, jti))
}

// GetRefresh reads a committed refresh token through the read pool; ok is
// false when jti is unknown. Safe for concurrent use. A rotation decision
// must use Tx.GetRefresh instead, under the write lock.
func (s *Store) GetRefresh(ctx context.Context, jti string) (RefreshToken, bool, error) {
	return getRefresh("get refresh", s.rs[rsGetRefresh].QueryRowContext(ctx, jti))
}

func getRefresh(op string, row *sql.Row) (RefreshToken, bool, error) {
	r, err := scanRefresh(row)
	if errors.Is(err, sql.ErrNoRows) {
		return RefreshToken{}, false, nil
	}
	if err != nil {
		return RefreshToken{}, false, wrap(op, err)
	}
	return r, true, nil
}

// RetireRefresh marks jti as rotated into replacedBy at atMs. Only an active
// token (not retired, not revoked) can be retired: otherwise it fails with
// ErrRefreshNotFound, ErrRefreshRetired (reuse of a rotated token: the
// caller revokes the family) or ErrRefreshRevoked.
func (tx *Tx) RetireRefresh(jti, replacedBy string, atMs int64) error {
	const op = "retire refresh"
	if tx.done {
		return wrap(op, ErrTxDone)
	}
	if atMs == 0 { // 0 means "active" in RefreshToken.RetiredAt
		atMs = 1
	}
	res, err := tx.stmt(stRetireRefresh).ExecContext(tx.ctx, atMs, nullStr(replacedBy), jti)
	if err != nil {
		return wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(op, err)
	}
	if n == 1 {
		return nil
	}
	r, ok, err := tx.GetRefresh(jti)
	switch {
	case err != nil:
		return wrap(op, err)
	case !ok:
		return wrap(op, ErrRefreshNotFound)
	case r.Revoked:
		return wrap(op, ErrRefreshRevoked)
	default:
		return wrap(op, ErrRefreshRetired)
	}
}

// SupersedeRefresh records that the retired token jti was presented again
// within the reuse grace period and rotated a second time, into
// replacedBy: replaced_by then names the family's live token again. It
// fails with ErrRefreshNotFound unless jti is retired and not revoked.
func (tx *Tx) SupersedeRefresh(jti, replacedBy string) error {
	const op = "supersede refresh"
	if tx.done {
		return wrap(op, ErrTxDone)
	}
	res, err := tx.stmt(stSupersede).ExecContext(tx.ctx, nullStr(replacedBy), jti)
	if err != nil {
		return wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(op, err)
	}
	if n != 1 {
		return wrap(op, ErrRefreshNotFound)
	}
	return nil
}

// jtiRevocationSQL finds the first revoke_jti event of a jti with a given
// expiry. The equality on (expires_at, type, value) is a prefix of the
// covering index revocation_events_active: one index probe, whatever the
// size of the log.
const jtiRevocationSQL = `SELECT id, event_id FROM revocation_events
	WHERE expires_at = ? AND type = 'revoke_jti' AND value = ? ORDER BY id LIMIT 1`

// JTIRevocation looks up the stored revoke_jti event of jti whose
// expires_at is expiresAtMs, inside the transaction. Every revocation of a
// refresh token's jti that revocd writes without an explicit TTL (logout,
// family revocation on reuse, revoke_jti) expires with the token, so
// expiresAtMs is the token's expiry. id is the event's audit-log position
// (revocation_events.id); found is false when there is no such event.
func (tx *Tx) JTIRevocation(jti string, expiresAtMs int64) (eventID string, id int64, found bool, err error) {
	const op = "jti revocation"
	if tx.done {
		return "", 0, false, wrap(op, ErrTxDone)
	}
	return jtiRevocation(op, tx.stmt(stJTIRevocation).QueryRowContext(tx.ctx, expiresAtMs, jti))
}

// JTIRevocation is Tx.JTIRevocation on the committed state, through the
// read pool. Safe for concurrent use.
func (s *Store) JTIRevocation(ctx context.Context, jti string, expiresAtMs int64) (eventID string, id int64, found bool, err error) {
	return jtiRevocation("jti revocation", s.r.QueryRowContext(ctx, jtiRevocationSQL, expiresAtMs, jti))
}

func jtiRevocation(op string, row *sql.Row) (string, int64, bool, error) {
	var (
		id      int64
		eventID string
	)
	err := row.Scan(&id, &eventID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, wrap(op, err)
	}
	return eventID, id, true, nil
}

// RevokeRefreshFamily revokes every token of familyID with reason and
// returns the rows this call revoked (those not yet revoked, retired ones
// included), as they are after the update; the caller emits revocation
// events for their JTIs and AccessJTIs.
func (tx *Tx) RevokeRefreshFamily(familyID, reason string) ([]RefreshToken, error) {
	return tx.revoke("revoke refresh family", stRevokeFamily, nullStr(reason), familyID)
}

// RevokeRefreshBySubject revokes every token of subject issued at or before
// issuedAtOrBeforeMs and returns the rows this call revoked, as
// RevokeRefreshFamily does.
func (tx *Tx) RevokeRefreshBySubject(subject string, issuedAtOrBeforeMs int64, reason string) ([]RefreshToken, error) {
	return tx.revoke("revoke refresh by subject", stRevokeSubject, nullStr(reason), subject, issuedAtOrBeforeMs)
}

// RevokeRefresh revokes one token. revoked is true when this call revoked
// it, with the updated row; it is false when jti is unknown (zero row) or
// was already revoked (the stored row).
func (tx *Tx) RevokeRefresh(jti, reason string) (RefreshToken, bool, error) {
	const op = "revoke refresh"
	rows, err := tx.revoke(op, stRevokeOne, nullStr(reason), jti)
	if err != nil {
		return RefreshToken{}, false, err
	}
	if len(rows) == 1 {
		return rows[0], true, nil
	}
	r, _, err := tx.GetRefresh(jti)
	return r, false, err
}

// RevokeRefreshIfActive revokes jti like RevokeRefresh, but without
// reading the row when this call revoked nothing: row is the updated row
// when revoked is true, the zero row otherwise (jti unknown or already
// revoked). For callers that revoke any jti, most of which are not refresh
// tokens (revoke_jti), at the cost of one statement.
func (tx *Tx) RevokeRefreshIfActive(jti, reason string) (row RefreshToken, revoked bool, err error) {
	rows, err := tx.revoke("revoke refresh", stRevokeOne, nullStr(reason), jti)
	if err != nil || len(rows) != 1 {
		return RefreshToken{}, false, err
	}
	return rows[0], true, nil
}

func (tx *Tx) revoke(op string, st int, args ...any) ([]RefreshToken, error) {
	if tx.done {
		return nil, wrap(op, ErrTxDone)
	}
	rows, err := tx.stmt(st).QueryContext(tx.ctx, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []RefreshToken
	for rows.Next() {
		r, err := scanRefresh(rows)
		if err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

// familyRevokedSQL probes the family index for a row revoked with a reason
// of the given prefix.
const familyRevokedSQL = `SELECT 1 FROM refresh_tokens
	WHERE family_id = ? AND revoked = 1 AND substr(revoked_reason, 1, ?) = ? LIMIT 1`

// FamilyRevoked reports whether a token of familyID was revoked with a
// reason starting with reasonPrefix (a revocation of the whole family,
// such as reuse detection), inside the transaction.
func (tx *Tx) FamilyRevoked(familyID, reasonPrefix string) (bool, error) {
	const op = "family revoked"
	if tx.done {
		return false, wrap(op, ErrTxDone)
	}
	var one int
	err := tx.tx.QueryRowContext(tx.ctx, familyRevokedSQL, familyID, len(reasonPrefix), reasonPrefix).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, wrap(op, err)
	}
	return true, nil
}
