package audit

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"time"

	"github.com/revocd/revocd/actors/msg"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
)

// The write rules: what each command does inside the group-commit
// transaction. They are ordinary functions of the open batch; they read and
// write through b.tx, add revocation events with b.revoke and token audit
// rows with b.tokenEvent. A rule that refuses a command returns an error
// without aborting the batch: what it wrote (for example the audit row of a
// refused refresh) is committed.

// Refusals of RotateRefresh (the error of its *Failed reply); the same
// values as the issuer's answers carry (actors/msg).
var (
	ErrRefreshUnknown  = msg.ErrRefreshUnknown
	ErrRefreshRevoked  = msg.ErrRefreshRevoked
	ErrBindingMismatch = msg.ErrBindingMismatch
	ErrRefreshReused   = msg.ErrRefreshReused
)

// ErrNoIndex is returned for a subject revocation when Config.Index is nil:
// its cutoff cannot be reserved.
var ErrNoIndex = errors.New("audit: subject revocation needs the revocation index")

func (m *CommitRevocation) apply(b *batch) outcome {
	ev, err := commitRevocation(b, m)
	return outcome{ev: ev, err: err}
}

func (m *RevokeRefresh) apply(b *batch) outcome {
	ev, prev, err := revokeRefresh(b, m)
	if prev != nil {
		prev.Ref = m.Ref
		return outcome{reply: prev}
	}
	return outcome{ev: ev, err: err}
}

func (m *CreateRefresh) apply(b *batch) outcome {
	// The state event is built first: a row that cannot be replicated is
	// not stored either.
	ev, err := refreshStateEvent(revocation.RefreshState{Token: stateRow(m.Row)})
	if err != nil {
		return outcome{err: err}
	}
	if err := b.tx.InsertRefresh(m.Row); err != nil {
		return outcome{err: err}
	}
	b.revoke(ev)
	_ = b.tokenEvent(sqlitestore.TokenEvent{Event: "refresh_create", Subject: m.Row.Subject, JTI: m.Row.JTI, Detail: "family=" + m.Row.FamilyID})
	return outcome{reply: &RefreshCreated{Ref: m.Ref}}
}

func (m *RotateRefresh) apply(b *batch) outcome {
	sub, err := rotateRefresh(b, m)
	if err != nil {
		return outcome{err: err}
	}
	return outcome{reply: &RefreshRotated{Ref: m.Ref, Subject: sub}}
}

func (m *PutKeyRing) apply(b *batch) outcome {
	if err := b.tx.PutKV(m.Name, m.Blob); err != nil {
		return outcome{err: err}
	}
	return outcome{reply: &KeyRingStored{Ref: m.Ref}}
}

// commitRevocation records the revocation event of m with its side effects
// on the refresh-token state.
func commitRevocation(b *batch, m *CommitRevocation) (*revocation.Event, error) {
	now := b.now
	ev := revocation.Event{Type: m.Type, Value: m.Value, Reason: m.Reason}
	if ev.Reason == "" {
		ev.Reason = "api"
	}
	exp := now.Add(m.MaxLifetime)
	switch m.Type {
	case revocation.TypeJTI:
		// If the jti is a refresh token's, its stored state is revoked in
		// this same transaction, so a refresh queued behind this
		// revocation (even in the same batch) cannot rotate it. (One
		// already revoked keeps the default lifetime, a safe upper bound.)
		row, _, err := b.tx.RevokeRefreshIfActive(m.Value, "revoked by jti")
		if err != nil {
			return nil, err
		}
		if row.ExpiresAt > now.UnixMilli() {
			exp = time.UnixMilli(row.ExpiresAt) // known from the audit log
		}
	case revocation.TypeSub:
		if b.w.cfg.Index == nil {
			return nil, ErrNoIndex
		}
		// The cutoff is reserved under the index's subject lock, so this
		// revocation covers every token issued before it and none issued
		// after it, even within one second; TS carries it to every node
		// (revocation.Event.SubCutoff). Tokens with iat <= cutoff live at
		// most MaxLifetime past it.
		// The cutoff lies MaxClockSkew ahead, covering the tokens of nodes
		// whose clock runs that much ahead of this one's.
		cutoff := b.w.cfg.Index.ReserveSubCutoffAhead(m.Value, b.w.cfg.MaxClockSkew)
		ev.TS = subEventTS(cutoff, now)
		exp = time.UnixMilli(ev.TS).Add(m.MaxLifetime)
		if _, err := b.tx.RevokeRefreshBySubject(m.Value, ev.TS, "subject revoked"); err != nil {
			return nil, err
		}
	}
	if m.TTL > 0 {
		exp = now.Add(m.TTL)
	}
	ev.ExpiresAt = exp.UnixMilli()
	return b.revoke(ev), nil
}

// subEventTS returns the TS (Unix ms) of a subject revocation with the
// given cutoff committed at now: now itself when the cutoff is now's
// second, else the cutoff's first millisecond, so that TS/1000 == cutoff.
func subEventTS(cutoff int64, now time.Time) int64 {
	if now.Unix() == cutoff {
		return now.UnixMilli()
	}
	return cutoff * 1000
}

// revokeRefresh marks the refresh token revoked and emits the revocation
// event of its jti, unless the token was revoked already (then it writes
// nothing: repeating a logout must not amplify into events fanned out to
// every destination).
func revokeRefresh(b *batch, m *RevokeRefresh) (*revocation.Event, *AlreadyRevoked, error) {
	row, revoked, err := b.tx.RevokeRefresh(m.JTI, "logout")
	if err != nil {
		return nil, nil, err
	}
	exp := m.ExpiresAt.UnixMilli()
	if !revoked && row.JTI != "" {
		if ev := b.pending(revocation.TypeJTI, m.JTI); ev != nil {
			return ev, nil, nil // revoked by an earlier command of this batch
		}
		prev := &AlreadyRevoked{}
		id, logID, found, err := b.tx.JTIRevocation(m.JTI, max(exp, row.ExpiresAt))
		if err != nil {
			return nil, nil, err
		}
		if found {
			prev.EventID, prev.LogID = id, logID
		}
		return nil, prev, nil
	}
	// Unknown here (a token of another node) or revoked just now.
	if revoked && row.ExpiresAt > exp {
		exp = row.ExpiresAt
	}
	if exp <= b.now.UnixMilli() {
		// Expired, but still inside the verifier's leeway.
		exp = b.now.Add(time.Minute).UnixMilli()
	}
	_ = b.tokenEvent(sqlitestore.TokenEvent{Event: "refresh_revoke", Subject: row.Subject, JTI: m.JTI})
	return b.revoke(revocation.Event{Type: revocation.TypeJTI, Value: m.JTI, ExpiresAt: exp, Reason: "refresh token revoked"}), nil, nil
}

// rotateRefresh checks the refresh token's state and binding, detects
// reuse, and records the rotation. It returns the family's subject.
func rotateRefresh(b *batch, m *RotateRefresh) (string, error) {
	now := b.now
	row, ok, err := b.tx.GetRefresh(m.OldJTI)
	if err != nil {
		return "", err
	}
	if !ok || row.Subject != m.Subject {
		return "", ErrRefreshUnknown
	}
	if row.Revoked {
		_ = b.tokenEvent(sqlitestore.TokenEvent{Event: "refresh_revoked_use", Subject: row.Subject, JTI: row.JTI})
		return "", ErrRefreshRevoked
	}
	if !bindingMatches(row.BindingHash, m.BindingHash, m.LegacyBindingHash) {
		_ = b.tokenEvent(sqlitestore.TokenEvent{Event: "binding_mismatch", Subject: row.Subject, JTI: row.JTI})
		return "", ErrBindingMismatch
	}
	next := m.Next
	var superseded *sqlitestore.RefreshToken
	if row.RetiredAt != 0 {
		retry, child, err := toleratedRetry(b, m, row)
		if err != nil {
			return "", err
		}
		if !retry {
			if err := revokeFamily(b, m.AccessTTL, row.Subject, row.FamilyID, reuseReason); err != nil {
				return "", err
			}
			_ = b.tokenEvent(sqlitestore.TokenEvent{Event: "reuse_detected", Subject: row.Subject, JTI: row.JTI, Detail: "family=" + row.FamilyID})
			return "", ErrRefreshReused
		}
		// Retry within the grace period: the child issued for the first
		// attempt is retired in favour of the one issued now, so the
		// family keeps a single live branch, and row names the new child
		// (a further retry of row is then again the immediate predecessor).
		superseded = &child
		if err := b.tx.RetireRefresh(row.ReplacedBy, next.JTI, now.UnixMilli()); err != nil {
			return "", err
		}
		if err := b.tx.SupersedeRefresh(row.JTI, next.JTI); err != nil {
			return "", err
		}
	}
	if next != nil {
		// The successor's binding is stored under the cluster-wide key
		// (m.BindingHash matched, or the node's legacy hash did), so
		// every node can check it.
		child := sqlitestore.RefreshToken{
			JTI: next.JTI, Subject: row.Subject, FamilyID: row.FamilyID, ParentJTI: row.JTI, BindingHash: m.BindingHash,
			IssuedAt: now.UnixMilli(), ExpiresAt: next.ExpiresAt.UnixMilli(), AccessJTI: m.AccessJTI,
		}
		ev, err := rotationStateEvent(row, child, superseded, now)
		if err != nil {
			return "", err
		}
		if row.RetiredAt == 0 {
			if err := b.tx.RetireRefresh(row.JTI, next.JTI, now.UnixMilli()); err != nil {
				return "", err
			}
		}
		if err := b.tx.InsertRefresh(child); err != nil {
			return "", err
		}
		b.revoke(ev)
	}
	_ = b.tokenEvent(sqlitestore.TokenEvent{Event: "refresh", Subject: row.Subject, JTI: row.JTI, Detail: "access=" + m.AccessJTI})
	return row.Subject, nil
}

// toleratedRetry reports whether presenting the retired token row is a
// client retry the reuse grace period tolerates: rotation is on, row was
// retired at most ReuseGrace ago, and row is the immediate predecessor of
// the family's live token (its recorded successor is neither retired nor
// revoked, and was rotated from row). Anything older is reuse.
// The tolerated retry's child (the successor issued for the first attempt)
// is returned with it.
func toleratedRetry(b *batch, m *RotateRefresh, row sqlitestore.RefreshToken) (bool, sqlitestore.RefreshToken, error) {
	if m.Next == nil || m.ReuseGrace <= 0 || row.ReplacedBy == "" ||
		b.now.Sub(time.UnixMilli(row.RetiredAt)) > m.ReuseGrace {
		return false, sqlitestore.RefreshToken{}, nil
	}
	child, ok, err := b.tx.GetRefresh(row.ReplacedBy)
	if err != nil {
		return false, sqlitestore.RefreshToken{}, err
	}
	return ok && !child.Revoked && child.RetiredAt == 0 && child.ParentJTI == row.JTI, child, nil
}

// bindingMatches compares a stored binding hash with the presented
// binding's hash under the cluster-wide key and, when the node has one,
// under its legacy per-node key (rows stored before the binding key was
// cluster-wide); both comparisons run in constant time.
func bindingMatches(stored, hash, legacy []byte) bool {
	ok := hmac.Equal(stored, hash)
	if len(legacy) > 0 {
		ok = hmac.Equal(stored, legacy) || ok
	}
	return ok
}

// rotationStateEvent returns the refresh_state event of a rotation of
// parent into child at now; superseded is the successor of a first
// attempt that a tolerated retry replaces, or nil.
func rotationStateEvent(parent, child sqlitestore.RefreshToken, superseded *sqlitestore.RefreshToken, now time.Time) (revocation.Event, error) {
	at := now.UnixMilli()
	p := stateRow(parent)
	if p.RetiredAt == 0 {
		p.RetiredAt = at
	}
	p.ReplacedBy = child.JTI
	s := revocation.RefreshState{Token: stateRow(child), Parent: &p}
	if superseded != nil {
		r := stateRow(*superseded)
		r.RetiredAt, r.ReplacedBy = at, child.JTI
		s.Superseded = &r
	}
	return refreshStateEvent(s)
}

// revokeFamily revokes every refresh token of a family of subject and the
// access tokens issued from it, with revocation events so the index and
// every other node enforce it.
// reason is stored with the revoked rows (one starting with reuseReason,
// which FamilyRevoked recognises).
func revokeFamily(b *batch, accessTTL time.Duration, subject, family, reason string) error {
	rows, err := b.tx.RevokeRefreshFamily(family, reason)
	if err != nil {
		return fmt.Errorf("audit: revoke refresh family %s: %w", family, err)
	}
	now := b.now
	// An access token expires AccessTTL after its iat, which the index may
	// have set a few seconds ahead of the clock (IssueIat); no token of the
	// subject issued so far has an iat above the current floor.
	accessBase := now
	if ix := b.w.cfg.Index; ix != nil {
		if floor := time.Unix(ix.IssueIat(subject), 0); floor.After(accessBase) {
			accessBase = floor
		}
	}
	for _, r := range rows {
		if r.ExpiresAt > now.UnixMilli() {
			b.revoke(revocation.Event{Type: revocation.TypeJTI, Value: r.JTI, ExpiresAt: r.ExpiresAt, Reason: familyReasonPrefix + family})
		}
		if r.AccessJTI != "" {
			b.revoke(revocation.Event{Type: revocation.TypeJTI, Value: r.AccessJTI, ExpiresAt: accessBase.Add(accessLifetime(accessTTL, r)).UnixMilli(), Reason: familyReasonPrefix + family})
		}
	}
	return nil
}
