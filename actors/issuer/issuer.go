// Package issuer is the issuer actor: it owns the token key ring's current
// signing key, signs access and refresh tokens, and rotates keys. Writes that
// must be durable before the client is answered (refresh-token state, the key
// ring) are handed to the audit writer as group-commit operations, with the
// original requester as the reply target, so the issuer never waits on
// SQLite for issuance.
package issuer

import (
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/google/uuid"

	"github.com/revocd/revocd/actors/audit"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
)

// Errors returned (inside *audit.Result or *Reply) to requesters.
var (
	ErrRefreshUnknown  = errors.New("Invalid refresh token")
	ErrRefreshRevoked  = errors.New("Refresh token has been revoked")
	ErrBindingMismatch = errors.New("Client binding mismatch")
	ErrRefreshReused   = errors.New("Refresh token reuse detected; the token family has been revoked")
)

// Config configures the issuer actor.
type Config struct {
	Issuer     *token.Issuer
	Ring       *token.Ring
	Audit      *actor.PID
	Algorithm  token.Algorithm
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	// Rotation enables refresh-token rotation with reuse detection.
	Rotation bool
	// ReuseGrace tolerates a client retry with a just-rotated token.
	ReuseGrace time.Duration
	Now        func() time.Time
	Logger     *slog.Logger
	// Index, if set, gives every token its "iat" (index.Index.IssueIat),
	// ordered with the subject revocations reserved there: a token issued
	// after a revoke_sub is not born revoked (iat has second precision), and
	// one issued before it is covered by it.
	Index *index.Index
	// OnRotate is called after the ring changed (for metrics and the
	// verifier cache); may be nil.
	OnRotate func(newKid string)
}

// IssueAccess asks for an access token. Reply: *Reply with *Issued.
type IssueAccess struct {
	Subject string
	TTL     time.Duration
	Extra   map[string]any
}

// CreateRefresh asks for a bound refresh token plus an access token. The
// reply (*audit.Result with *Pair) comes from the audit writer after the
// refresh token's state is durable.
type CreateRefresh struct {
	Subject     string
	BindingHash []byte
	Extra       map[string]any
}

// Refresh exchanges a verified refresh token for new tokens. The reply
// (*audit.Result with *Pair, or an error such as ErrBindingMismatch) comes
// from the audit writer.
type Refresh struct {
	OldJTI      string
	Subject     string
	BindingHash []byte
	AccessJTI   string
	Extra       map[string]any
}

// RotateKey makes a fresh key current. With IfCurrent set, it rotates only
// when that kid is the current key (revoke_kid of the signing key), and
// always removes IfCurrent from the ring. Reply: *Reply with *Rotated.
type RotateKey struct{ IfCurrent string }

// Issued is one signed token.
type Issued struct {
	Token     string
	JTI       string
	ExpiresIn int64 // seconds
	ExpiresAt time.Time
}

// Pair is a refresh token and an access token. Refresh is nil when rotation
// is off and the client keeps its refresh token.
type Pair struct {
	Access  Issued
	Refresh *Issued
	Subject string
}

// Rotated reports a key rotation.
type Rotated struct {
	Rotated bool
	Kid     string
}

// Reply is the issuer's own reply type.
type Reply struct {
	Value any
	Err   error
}

type issuerActor struct{ cfg Config }

// New returns the actor producer.
func New(cfg Config) actor.Producer {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return func() actor.Receiver { return &issuerActor{cfg: cfg} }
}

// Receive implements actor.Receiver.
func (a *issuerActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case *IssueAccess:
		iss, err := a.sign(m.Subject, m.TTL, "access", "", m.Extra)
		if err != nil {
			c.Respond(&Reply{Err: err})
			return
		}
		c.Engine().Send(a.cfg.Audit, &audit.Record{TokenEvents: []sqlitestore.TokenEvent{{Event: "issue", Subject: m.Subject, JTI: iss.JTI}}})
		c.Respond(&Reply{Value: iss})
	case *CreateRefresh:
		a.createRefresh(c, m)
	case *Refresh:
		a.refresh(c, m)
	case *RotateKey:
		r, err := a.rotate(c, m.IfCurrent)
		c.Respond(&Reply{Value: r, Err: err})
	}
}

func (a *issuerActor) sign(sub string, ttl time.Duration, typ, jti string, extra map[string]any) (Issued, error) {
	if jti == "" {
		jti = uuid.NewString()
	}
	now := a.cfg.Now()
	spec := token.Spec{Subject: sub, TTL: ttl, Type: typ, Extra: extra, JTI: jti}
	if a.cfg.Index != nil {
		// The token's iat is at least this floor, read under the subject's
		// index lock: above the cutoff of every subject revocation reserved
		// before now, at most the cutoff of every one reserved after (a
		// seed-era "all tokens" revocation stays fatal). token.Issue reads
		// its clock again; a later second there only orders this issuance
		// after a revocation reserved meanwhile, which is allowed as the
		// issuance has not returned yet.
		spec.NotBeforeIat = time.Unix(a.cfg.Index.IssueIat(sub), 0)
	}
	tok, claims, err := a.cfg.Issuer.Issue(spec)
	if err != nil {
		return Issued{}, fmt.Errorf("issuer: sign %s token: %w", typ, err)
	}
	exp := claims.ExpiresAt
	if exp.IsZero() {
		exp = now.Add(ttl).Truncate(time.Second)
	}
	return Issued{Token: tok, JTI: jti, ExpiresIn: int64(ttl / time.Second), ExpiresAt: exp}, nil
}

func (a *issuerActor) createRefresh(c *actor.Context, m *CreateRefresh) {
	access, err := a.sign(m.Subject, a.cfg.AccessTTL, "access", "", m.Extra)
	if err != nil {
		c.Respond(&audit.Result{Err: err})
		return
	}
	refresh, err := a.sign(m.Subject, a.cfg.RefreshTTL, "refresh", "", m.Extra)
	if err != nil {
		c.Respond(&audit.Result{Err: err})
		return
	}
	now := a.cfg.Now().UnixMilli()
	row := sqlitestore.RefreshToken{
		JTI: refresh.JTI, Subject: m.Subject, FamilyID: uuid.NewString(), BindingHash: m.BindingHash,
		IssuedAt: now, ExpiresAt: refresh.ExpiresAt.UnixMilli(), AccessJTI: access.JTI,
	}
	pair := &Pair{Access: access, Refresh: &refresh, Subject: m.Subject}
	op := func(b *audit.Batch) (any, error) {
		if err := b.Tx.InsertRefresh(row); err != nil {
			return nil, err
		}
		_ = b.TokenEvent(sqlitestore.TokenEvent{Event: "refresh_create", Subject: m.Subject, JTI: refresh.JTI, Detail: "family=" + row.FamilyID})
		return pair, nil
	}
	c.Engine().SendWithSender(a.cfg.Audit, &audit.Submit{Op: op}, c.Sender())
}

func (a *issuerActor) refresh(c *actor.Context, m *Refresh) {
	access, err := a.sign(m.Subject, a.cfg.AccessTTL, "access", m.AccessJTI, m.Extra)
	if err != nil {
		c.Respond(&audit.Result{Err: err})
		return
	}
	var next *Issued
	if a.cfg.Rotation {
		r, err := a.sign(m.Subject, a.cfg.RefreshTTL, "refresh", "", m.Extra)
		if err != nil {
			c.Respond(&audit.Result{Err: err})
			return
		}
		next = &r
	}
	cfg := a.cfg
	op := func(b *audit.Batch) (any, error) {
		return rotateOp(b, cfg, m, access, next)
	}
	c.Engine().SendWithSender(a.cfg.Audit, &audit.Submit{Op: op}, c.Sender())
}

// rotateOp runs inside the group-commit transaction: it checks the refresh
// token's state and binding, detects reuse, and records the rotation.
func rotateOp(b *audit.Batch, cfg Config, m *Refresh, access Issued, next *Issued) (any, error) {
	now := b.Now()
	row, ok, err := b.Tx.GetRefresh(m.OldJTI)
	if err != nil {
		return nil, err
	}
	if !ok || row.Subject != m.Subject {
		return nil, ErrRefreshUnknown
	}
	if row.Revoked {
		_ = b.TokenEvent(sqlitestore.TokenEvent{Event: "refresh_revoked_use", Subject: row.Subject, JTI: row.JTI})
		return nil, ErrRefreshRevoked
	}
	if !hmac.Equal(row.BindingHash, m.BindingHash) {
		_ = b.TokenEvent(sqlitestore.TokenEvent{Event: "binding_mismatch", Subject: row.Subject, JTI: row.JTI})
		return nil, ErrBindingMismatch
	}
	if row.RetiredAt != 0 {
		retry, err := toleratedRetry(b, cfg, row, next)
		if err != nil {
			return nil, err
		}
		if !retry {
			if err := revokeFamily(b, cfg, row.Subject, row.FamilyID); err != nil {
				return nil, err
			}
			_ = b.TokenEvent(sqlitestore.TokenEvent{Event: "reuse_detected", Subject: row.Subject, JTI: row.JTI, Detail: "family=" + row.FamilyID})
			return nil, ErrRefreshReused
		}
		// Retry within the grace period: the child issued for the first
		// attempt is retired in favour of the one issued now, so the
		// family keeps a single live branch, and row names the new child
		// (a further retry of row is then again the immediate predecessor).
		if err := b.Tx.RetireRefresh(row.ReplacedBy, next.JTI, now.UnixMilli()); err != nil {
			return nil, err
		}
		if err := b.Tx.SupersedeRefresh(row.JTI, next.JTI); err != nil {
			return nil, err
		}
	}
	if next != nil {
		if row.RetiredAt == 0 {
			if err := b.Tx.RetireRefresh(row.JTI, next.JTI, now.UnixMilli()); err != nil {
				return nil, err
			}
		}
		child := sqlitestore.RefreshToken{
			JTI: next.JTI, Subject: row.Subject, FamilyID: row.FamilyID, ParentJTI: row.JTI, BindingHash: row.BindingHash,
			IssuedAt: now.UnixMilli(), ExpiresAt: next.ExpiresAt.UnixMilli(), AccessJTI: access.JTI,
		}
		if err := b.Tx.InsertRefresh(child); err != nil {
			return nil, err
		}
	}
	_ = b.TokenEvent(sqlitestore.TokenEvent{Event: "refresh", Subject: row.Subject, JTI: row.JTI, Detail: "access=" + access.JTI})
	return &Pair{Access: access, Refresh: next, Subject: row.Subject}, nil
}

// toleratedRetry reports whether presenting the retired token row is a
// client retry the reuse grace period tolerates: rotation is on, row was
// retired at most ReuseGrace ago, and row is the immediate predecessor of
// the family's live token (its recorded successor is neither retired nor
// revoked, and was rotated from row). Anything older is reuse.
func toleratedRetry(b *audit.Batch, cfg Config, row sqlitestore.RefreshToken, next *Issued) (bool, error) {
	if next == nil || cfg.ReuseGrace <= 0 || row.ReplacedBy == "" ||
		b.Now().Sub(time.UnixMilli(row.RetiredAt)) > cfg.ReuseGrace {
		return false, nil
	}
	child, ok, err := b.Tx.GetRefresh(row.ReplacedBy)
	if err != nil {
		return false, err
	}
	return ok && !child.Revoked && child.RetiredAt == 0 && child.ParentJTI == row.JTI, nil
}

// revokeFamily revokes every refresh token of a family of subject and the
// access tokens issued from it, with revocation events so the index and
// every other node enforce it.
func revokeFamily(b *audit.Batch, cfg Config, subject, family string) error {
	rows, err := b.Tx.RevokeRefreshFamily(family, "reuse detected")
	if err != nil {
		return fmt.Errorf("issuer: revoke refresh family %s: %w", family, err)
	}
	now := b.Now()
	// An access token expires AccessTTL after its iat, which the index may
	// have set a few seconds ahead of the clock (IssueIat); no token of the
	// subject issued so far has an iat above the current floor.
	accessBase := now
	if cfg.Index != nil {
		if floor := time.Unix(cfg.Index.IssueIat(subject), 0); floor.After(accessBase) {
			accessBase = floor
		}
	}
	for _, r := range rows {
		if r.ExpiresAt > now.UnixMilli() {
			b.Revoke(revocation.Event{Type: revocation.TypeJTI, Value: r.JTI, ExpiresAt: r.ExpiresAt, Reason: "refresh token reuse: family " + family})
		}
		if r.AccessJTI != "" {
			b.Revoke(revocation.Event{Type: revocation.TypeJTI, Value: r.AccessJTI, ExpiresAt: accessBase.Add(cfg.AccessTTL).UnixMilli(), Reason: "refresh token reuse: family " + family})
		}
	}
	return nil
}

func (a *issuerActor) rotate(c *actor.Context, ifCurrent string) (*Rotated, error) {
	ring := a.cfg.Ring
	cur := ring.Current()
	if ifCurrent != "" && cur.ID != ifCurrent {
		ring.Remove(ifCurrent)
		return &Rotated{Rotated: false, Kid: cur.ID}, a.persist(c)
	}
	next, err := token.GenerateKey(a.cfg.Algorithm, NewKeyID(a.cfg.Algorithm), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("issuer: generate key: %w", err)
	}
	retire := a.cfg.Now().Add(max(a.cfg.AccessTTL, a.cfg.RefreshTTL))
	ring.Rotate(next, retire)
	if ifCurrent != "" {
		ring.Remove(ifCurrent)
	}
	if err := a.persist(c); err != nil {
		return nil, err
	}
	a.cfg.Logger.Info("issuer: signing key rotated", "old_kid", cur.ID, "new_kid", next.ID, "revoked_old", ifCurrent != "")
	if a.cfg.OnRotate != nil {
		a.cfg.OnRotate(next.ID)
	}
	return &Rotated{Rotated: true, Kid: next.ID}, nil
}

// persist writes the ring through the audit writer and waits for the commit:
// a rotation is durable before it is acknowledged.
func (a *issuerActor) persist(c *actor.Context) error {
	blob, err := EncodeRing(a.cfg.Ring)
	if err != nil {
		return err
	}
	op := func(b *audit.Batch) (any, error) { return nil, b.Tx.PutKV(RingKV, blob) }
	res, err := c.Engine().Request(a.cfg.Audit, &audit.Submit{Op: op}, 10*time.Second).Result()
	if err != nil {
		return fmt.Errorf("issuer: persist key ring: %w", err)
	}
	if r, ok := res.(*audit.Result); ok && r.Err != nil {
		return fmt.Errorf("issuer: persist key ring: %w", r.Err)
	}
	return nil
}
