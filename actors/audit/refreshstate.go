package audit

import (
	"fmt"
	"strings"
	"time"

	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
)

// Refresh-token state is cluster state: every create and rotation emits a
// refresh_state event (revocation.RefreshState) in the same transaction as
// the row it describes, and every node applies the events of the others
// here, in the transaction that stores them. The rules of the receiving
// side:
//
//   - A row unknown here is inserted; a known one is only ever moved
//     forward (live → retired), never un-retired or un-revoked.
//   - A parent already retired here into a different successor than the
//     event's means two nodes rotated one token concurrently: the family is
//     revoked here through revokeFamily, as on reuse, which emits the
//     revoke_jti events that revoke it on every node. Both nodes see the
//     other's event, so both detect it.
//   - A state whose rows are revoked here, or whose family was revoked here
//     as a whole, revokes the family again (the new rows included).
//   - A received revoke_jti revokes the refresh row of its jti; one that a
//     family revocation emitted (familyReasonPrefix) revokes the whole
//     family here, with events for the rows the sender did not know.
//   - A received revoke_sub revokes the subject's rows issued up to its
//     cutoff, as a local one does.

// Reasons of a family revocation: reuseReason in refresh_tokens (the
// prefix FamilyRevoked looks for) and familyReasonPrefix in the
// revoke_jti events it emits.
const (
	reuseReason        = "reuse detected"
	conflictReason     = reuseReason + ": concurrent rotation on two nodes"
	remoteReuseReason  = reuseReason + " on another node"
	familyReasonPrefix = "refresh token reuse: family "
	refreshStateReason = "refresh token state"
)

// stateRow returns the replicated form of a refresh_tokens row.
func stateRow(r sqlitestore.RefreshToken) revocation.RefreshRow {
	return revocation.RefreshRow{
		JTI: r.JTI, Subject: r.Subject, Family: r.FamilyID, Parent: r.ParentJTI, BindingHash: r.BindingHash,
		IssuedAt: r.IssuedAt, ExpiresAt: r.ExpiresAt, AccessJTI: r.AccessJTI, RetiredAt: r.RetiredAt, ReplacedBy: r.ReplacedBy,
	}
}

// storeRow returns the refresh_tokens row of a replicated one (not revoked).
func storeRow(r *revocation.RefreshRow) sqlitestore.RefreshToken {
	return sqlitestore.RefreshToken{
		JTI: r.JTI, Subject: r.Subject, FamilyID: r.Family, ParentJTI: r.Parent, BindingHash: r.BindingHash,
		IssuedAt: r.IssuedAt, ExpiresAt: r.ExpiresAt, AccessJTI: r.AccessJTI, RetiredAt: r.RetiredAt, ReplacedBy: r.ReplacedBy,
	}
}

// refreshStateEvent encodes s as the refresh_state event of its token.
func refreshStateEvent(s revocation.RefreshState) (revocation.Event, error) {
	data, err := s.Marshal()
	if err != nil {
		return revocation.Event{}, fmt.Errorf("audit: refresh state of %s: %w", s.Token.JTI, err)
	}
	return revocation.Event{
		Type: revocation.TypeRefreshState, Value: s.Token.JTI, ExpiresAt: s.Token.ExpiresAt,
		Reason: refreshStateReason, Data: data,
	}, nil
}

// screenRemote decodes the payload of a received refresh_state event. A
// payload that fails is reported through Config.OnBadState and the event
// is neither stored nor applied; ok is false then.
func (w *writer) screenRemote(e *revocation.Event) (s revocation.RefreshState, ok bool) {
	if e.Type != revocation.TypeRefreshState {
		return s, true
	}
	s, err := revocation.UnmarshalRefreshState(e.Data, e.Value)
	if err != nil {
		w.cfg.Logger.Warn("audit: dropped a refresh_state event with a bad payload", "event_id", e.EventID, "origin", e.Origin, "err", err)
		if w.cfg.OnBadState != nil {
			w.cfg.OnBadState(e, err)
		}
		return s, false
	}
	return s, true
}

// remoteApplier applies the newly stored events of other nodes to the
// refresh-token state of one batch.
type remoteApplier struct {
	b *batch
	// reused are the families a received family revocation named, in
	// arrival order, with their subjects: revoked as a whole once every
	// event of the batch is applied (so rows the sender revoked itself
	// are not announced again).
	reused   []string
	subjects map[string]string
}

// apply applies one received event; s is its decoded payload when it is a
// refresh_state.
func (a *remoteApplier) apply(e *revocation.Event, s *revocation.RefreshState) error {
	b := a.b
	switch e.Type {
	case revocation.TypeRefreshState:
		return applyRefreshState(b, e, s)
	case revocation.TypeJTI:
		reason := "revoked by jti on " + e.Origin
		family := strings.HasPrefix(e.Reason, familyReasonPrefix)
		if family {
			reason = remoteReuseReason
		}
		if _, _, err := b.tx.RevokeRefreshIfActive(e.Value, reason); err != nil {
			return err
		}
		if !family {
			return nil
		}
		row, ok, err := b.tx.GetRefresh(e.Value)
		if err != nil || !ok {
			return err
		}
		if _, seen := a.subjects[row.FamilyID]; !seen {
			if a.subjects == nil {
				a.subjects = map[string]string{}
			}
			a.subjects[row.FamilyID] = row.Subject
			a.reused = append(a.reused, row.FamilyID)
		}
	case revocation.TypeSub:
		_, err := b.tx.RevokeRefreshBySubject(e.Value, e.TS, "subject revoked on "+e.Origin)
		return err
	}
	return nil
}

// finish revokes the families named by received family revocations: the
// rows of them this node knows and the sender did not (still live here)
// are revoked with events of their own.
func (a *remoteApplier) finish() error {
	for _, f := range a.reused {
		if err := revokeFamily(a.b, a.b.w.cfg.AccessTTL, a.subjects[f], f, remoteReuseReason); err != nil {
			return err
		}
	}
	return nil
}

// rowMerge is what merging one received row found.
type rowMerge struct {
	conflict bool // retired here into another successor
	revoked  bool // revoked here
}

// mergeRow merges a received row into refresh_tokens: an unknown row is
// inserted, a live one retired as received; a row retired here into
// another successor is a conflict, unless supersededBy is that successor
// (a retry within the reuse grace period replaced it, and the row now
// names the new one).
func mergeRow(b *batch, r *revocation.RefreshRow, supersededBy string) (rowMerge, error) {
	local, ok, err := b.tx.GetRefresh(r.JTI)
	if err != nil {
		return rowMerge{}, err
	}
	switch {
	case !ok:
		return rowMerge{}, b.tx.InsertRefresh(storeRow(r))
	case local.Subject != r.Subject || local.FamilyID != r.Family:
		// A jti claimed by two families: never the same token.
		return rowMerge{conflict: true}, nil
	case local.Revoked:
		return rowMerge{revoked: true}, nil
	case r.RetiredAt == 0, local.ReplacedBy == r.ReplacedBy:
		return rowMerge{}, nil
	case local.RetiredAt == 0:
		return rowMerge{}, b.tx.RetireRefresh(r.JTI, r.ReplacedBy, r.RetiredAt)
	case supersededBy != "" && local.ReplacedBy == supersededBy:
		return rowMerge{}, b.tx.SupersedeRefresh(r.JTI, r.ReplacedBy)
	}
	return rowMerge{conflict: true}, nil
}

// applyRefreshState applies a received refresh_state event (see the rules
// above).
func applyRefreshState(b *batch, e *revocation.Event, s *revocation.RefreshState) error {
	var m rowMerge
	add := func(r *revocation.RefreshRow, supersededBy string) error {
		got, err := mergeRow(b, r, supersededBy)
		m.conflict, m.revoked = m.conflict || got.conflict, m.revoked || got.revoked
		return err
	}
	if s.Superseded != nil {
		if err := add(s.Superseded, ""); err != nil {
			return err
		}
	}
	if s.Parent != nil {
		sup := ""
		if s.Superseded != nil {
			sup = s.Superseded.JTI
		}
		if err := add(s.Parent, sup); err != nil {
			return err
		}
	}
	if err := add(&s.Token, ""); err != nil {
		return err
	}
	t := &s.Token
	reason := ""
	switch {
	case m.conflict:
		reason = conflictReason
		_ = b.tokenEvent(sqlitestore.TokenEvent{Event: "refresh_conflict", Subject: t.Subject, JTI: t.JTI,
			Detail: fmt.Sprintf("family=%s parent=%s origin=%s", t.Family, t.Parent, e.Origin)})
	case m.revoked:
		reason = remoteReuseReason
	default:
		dead, err := b.tx.FamilyRevoked(t.Family, reuseReason)
		if err != nil {
			return err
		}
		if dead {
			reason = remoteReuseReason
		}
	}
	if reason == "" {
		return nil
	}
	return revokeFamily(b, b.w.cfg.AccessTTL, t.Subject, t.Family, reason)
}

// accessLifetime is the lifetime of the revocation of an access token
// issued with a refresh token of a revoked family: Config.AccessTTL, or,
// when unset, the refresh token's own lifetime (an upper bound).
func accessLifetime(accessTTL time.Duration, r sqlitestore.RefreshToken) time.Duration {
	if accessTTL > 0 {
		return accessTTL
	}
	return time.Duration(max(r.ExpiresAt-r.IssuedAt, 0)) * time.Millisecond
}
