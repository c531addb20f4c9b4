// Package issuer is the issuer actor: it owns the token key ring's current
// signing key, signs access and refresh tokens, and rotates keys. Writes that
// must be durable before the client is answered (refresh-token state, the key
// ring) are sent to the audit writer as typed commands; the writer's reply
// comes back here as a message and the issuer answers the original requester
// with its own typed reply (*Issued, *Pair, *Rotated or *Failed). The issuer
// never waits on SQLite or on another actor inside Receive.
package issuer

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/google/uuid"

	"github.com/revocd/revocd/actors/audit"
	"github.com/revocd/revocd/actors/msg"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
)

// Refusals of a refresh (errors.Is on a *Failed answer's Err), and the audit
// log failure (nothing was recorded).
var (
	ErrRefreshUnknown  = msg.ErrRefreshUnknown
	ErrRefreshRevoked  = msg.ErrRefreshRevoked
	ErrBindingMismatch = msg.ErrBindingMismatch
	ErrRefreshReused   = msg.ErrRefreshReused
	ErrUnavailable     = msg.ErrUnavailable
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
	// Dev (--dev) marks the persisted ring's keys development-only
	// (EncodeRing).
	Dev bool
	// OnRotate is called after the ring changed and is durable (for
	// metrics and the verifier cache); may be nil. It runs on the actor's
	// goroutine and must not block.
	OnRotate func(newKid string)

	// NodeID is this node's origin in the signed log: key_state events of
	// other origins add their keys to the ring, verify-only.
	NodeID string
	// Keys is the key state LoadKeys restored; nil means Ring alone (no
	// keys of other nodes yet).
	Keys *Keys
	// WrapSecret is JWT_SECRET_KEY: HS256 keys are published sealed under
	// a key derived from it (every node of an HS256 cluster holds it).
	WrapSecret string
	// OnKeyRefused is called for a received key_state this node refuses
	// (reason: conflict, revoked, too_many, invalid); may be nil. It runs
	// on the actor's goroutine and must not block.
	OnKeyRefused func(reason string)
}

// The issuer's requests and answers (declared in actors/msg, so that the
// HTTP layer can use them without depending on this package).
type (
	// IssueAccess asks for an access token. Answer: *Issued.
	IssueAccess = msg.IssueAccess
	// CreateRefresh asks for a bound refresh token plus an access token.
	// Answer: *Pair, once the refresh token's state is durable.
	CreateRefresh = msg.CreateRefresh
	// Refresh exchanges a verified refresh token. Answer: *Pair once the
	// exchange is durable.
	Refresh = msg.Refresh
	// RotateKey makes a fresh key current. Answer: *Rotated once the ring
	// is durable.
	RotateKey = msg.RotateKey
	// Issued is one signed token.
	Issued = msg.Issued
	// Pair is a refresh token and an access token.
	Pair = msg.Pair
	// Rotated answers RotateKey.
	Rotated = msg.Rotated
	// Failed answers a request that was refused or not recorded.
	Failed = msg.Failed
)

// waiting is a request whose audit command is in flight: who to answer,
// and with what once the write is durable.
type waiting struct {
	to      *actor.PID
	pair    *Pair    // CreateRefresh, Refresh
	rotated *Rotated // RotateKey
	newKid  string   // RotateKey that made a fresh key current
	// published is what was recorded as published before this write: put
	// back if the write fails, so the states are published again.
	published map[string]PublishedState
}

type issuerActor struct {
	cfg     Config
	keys    *Keys
	nextID  uint64
	waiting map[uint64]waiting
}

// New returns the actor producer.
func New(cfg Config) actor.Producer {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	keys := cfg.Keys
	if keys == nil {
		keys = &Keys{Ring: cfg.Ring}
	}
	if keys.Foreign == nil {
		keys.Foreign = map[string]*ForeignKey{}
	}
	if keys.Published == nil {
		keys.Published = map[string]PublishedState{}
	}
	cfg.Ring = keys.Ring
	return func() actor.Receiver { return &issuerActor{cfg: cfg, keys: keys, waiting: map[uint64]waiting{}} }
}

// Receive implements actor.Receiver.
func (a *issuerActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		// Publish the keys not published yet (first start of this
		// version, or a write that failed before a stop).
		if len(a.keys.toPublish()) > 0 {
			a.persist(c, waiting{})
		}
	case *IssueAccess:
		iss, err := a.sign(m.Subject, m.TTL, "access", "", m.Jkt, m.Extra)
		if err != nil {
			c.Respond(&Failed{Err: err})
			return
		}
		c.Send(a.cfg.Audit, &audit.Record{TokenEvents: []sqlitestore.TokenEvent{{Event: "issue", Subject: m.Subject, JTI: iss.JTI}}})
		c.Respond(&iss)
	case *CreateRefresh:
		a.createRefresh(c, m)
	case *Refresh:
		a.refresh(c, m)
	case *RotateKey:
		a.rotate(c, m)

	case *audit.RefreshCreated:
		if w, ok := a.take(m.ID); ok {
			c.Send(w.to, w.pair)
		}
	case *audit.RefreshRotated:
		if w, ok := a.take(m.ID); ok {
			w.pair.Subject = m.Subject
			c.Send(w.to, w.pair)
		}
	case *audit.Committed:
		a.revokedElsewhere(c, m)
		a.receivedKeys(c, m)
	case *audit.KeyRingStored:
		if w, ok := a.take(m.ID); ok {
			if w.newKid != "" && a.cfg.OnRotate != nil {
				a.cfg.OnRotate(w.newKid)
			}
			if w.to != nil {
				c.Send(w.to, w.rotated)
			}
		}
	case *audit.Failed:
		if w, ok := a.take(m.ID); ok {
			if w.published != nil {
				a.keys.Published = w.published
			}
			err := m.Err
			if w.rotated != nil {
				err = fmt.Errorf("issuer: persist key ring: %w", err)
			}
			var id uint64
			if w.rotated != nil {
				id = w.rotated.ID
			}
			if w.to == nil {
				a.cfg.Logger.Error("issuer: persist key ring", "err", err)
				return
			}
			c.Send(w.to, &Failed{ID: id, Err: err})
		}
	}
}

// await records who to answer once the audit command sent with the
// returned ref is durable.
func (a *issuerActor) await(w waiting) audit.Ref {
	a.nextID++
	a.waiting[a.nextID] = w
	return audit.Ref{To: w.to, ID: a.nextID}
}

func (a *issuerActor) take(id uint64) (waiting, bool) {
	w, ok := a.waiting[id]
	delete(a.waiting, id)
	return w, ok
}

func (a *issuerActor) sign(sub string, ttl time.Duration, typ, jti, jkt string, extra map[string]any) (Issued, error) {
	if jti == "" {
		jti = uuid.NewString()
	}
	now := a.cfg.Now()
	spec := token.Spec{Subject: sub, TTL: ttl, Type: typ, Extra: extra, JTI: jti, Jkt: jkt}
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
	access, err := a.sign(m.Subject, a.cfg.AccessTTL, "access", "", m.Jkt, m.Extra)
	if err != nil {
		c.Respond(&Failed{Err: err})
		return
	}
	refresh, err := a.sign(m.Subject, a.cfg.RefreshTTL, "refresh", "", m.Jkt, m.Extra)
	if err != nil {
		c.Respond(&Failed{Err: err})
		return
	}
	row := sqlitestore.RefreshToken{
		JTI: refresh.JTI, Subject: m.Subject, FamilyID: uuid.NewString(), BindingHash: m.BindingHash,
		IssuedAt: a.cfg.Now().UnixMilli(), ExpiresAt: refresh.ExpiresAt.UnixMilli(), AccessJTI: access.JTI,
	}
	ref := a.await(waiting{to: c.Sender(), pair: &Pair{Access: access, Refresh: &refresh, Subject: m.Subject}})
	c.Send(a.cfg.Audit, &audit.CreateRefresh{Ref: ref, Row: row})
}

func (a *issuerActor) refresh(c *actor.Context, m *Refresh) {
	access, err := a.sign(m.Subject, a.cfg.AccessTTL, "access", m.AccessJTI, m.Jkt, m.Extra)
	if err != nil {
		c.Respond(&Failed{Err: err})
		return
	}
	cmd := &audit.RotateRefresh{
		OldJTI: m.OldJTI, Subject: m.Subject, BindingHash: m.BindingHash, LegacyBindingHash: m.LegacyBindingHash, AccessJTI: access.JTI,
		ReuseGrace: a.cfg.ReuseGrace, AccessTTL: a.cfg.AccessTTL,
	}
	var next *Issued
	if a.cfg.Rotation {
		r, err := a.sign(m.Subject, a.cfg.RefreshTTL, "refresh", "", m.Jkt, m.Extra)
		if err != nil {
			c.Respond(&Failed{Err: err})
			return
		}
		next = &r
		cmd.Next = &audit.NextRefresh{JTI: r.JTI, ExpiresAt: r.ExpiresAt}
	}
	cmd.Ref = a.await(waiting{to: c.Sender(), pair: &Pair{Access: access, Refresh: next, Subject: m.Subject}})
	c.Send(a.cfg.Audit, cmd)
}

// rotate rotates the ring in memory and sends the audit writer the new
// ring; the requester is answered when the writer's reply arrives.
func (a *issuerActor) rotate(c *actor.Context, m *RotateKey) {
	ring := a.cfg.Ring
	cur := ring.Current()
	w := waiting{to: c.Sender(), rotated: &Rotated{ID: m.ID, Kid: cur.ID}}
	if m.IfCurrent == "" || cur.ID == m.IfCurrent {
		next, err := newSigningKey(a.cfg.Algorithm)
		if err != nil {
			c.Respond(&Failed{ID: m.ID, Err: fmt.Errorf("issuer: generate key: %w", err)})
			return
		}
		a.rotateTo(next)
		w.rotated.Rotated, w.rotated.Kid, w.newKid = true, next.ID, next.ID
		a.cfg.Logger.Info("issuer: signing key rotated", "old_kid", cur.ID, "new_kid", next.ID, "revoked_old", m.IfCurrent != "")
	}
	if m.IfCurrent != "" {
		ring.Remove(m.IfCurrent)
	}
	if err := a.persist(c, w); err != nil {
		c.Respond(&Failed{ID: m.ID, Err: err})
	}
}

// rotateTo makes next the current key; the replaced key verifies until the
// last token it signed expires (longer while other nodes holding the same
// key may still sign with it).
func (a *issuerActor) rotateTo(next *token.Key) {
	ring := a.cfg.Ring
	retire := a.cfg.Now().Add(max(a.cfg.AccessTTL, a.cfg.RefreshTTL))
	old := ring.Current()
	ring.Rotate(next, retire)
	if old == nil {
		return
	}
	if f, ok := a.keys.Foreign[old.ID]; ok && f.Own {
		f.OwnRetire = retire.UnixMilli()
		a.keys.applyRetire(old.ID)
	}
}

// persist stores the key state and publishes, in the same transaction,
// every state of this node's keys not published yet (CommitKeyState); w is
// answered with the writer's *KeyRingStored or *Failed. It returns an error
// (nothing sent) when the ring cannot be encoded.
func (a *issuerActor) persist(c *actor.Context, w waiting) error {
	if a.cfg.Audit == nil {
		return errors.New("issuer: no audit writer to persist the key ring with")
	}
	ks := a.keys
	ks.forget()
	for kid := range ks.Published {
		if _, ok := ks.Ring.Lookup(kid); !ok {
			delete(ks.Published, kid)
		}
	}
	prev := maps.Clone(ks.Published)
	now := a.cfg.Now()
	pending := ks.toPublish()
	var states []audit.KeyStateEvent
	for _, kid := range slices.Sorted(maps.Keys(pending)) {
		st := pending[kid]
		k, _ := ks.Ring.Lookup(kid)
		payload, err := keyStateOf(k, st.State, st.VerifyUntil, a.cfg.WrapSecret)
		var data []byte
		if err == nil {
			data, err = payload.Marshal()
		}
		if err != nil {
			a.cfg.Logger.Warn("issuer: cannot publish a signing key to the cluster; other nodes will not verify its tokens", "kid", kid, "err", err)
			continue
		}
		exp := st.VerifyUntil
		if exp == 0 {
			exp = now.Add(max(a.cfg.AccessTTL, a.cfg.RefreshTTL)).UnixMilli()
		}
		states = append(states, audit.KeyStateEvent{Kid: kid, Data: data, ExpiresAt: exp})
		ks.Published[kid] = st
	}
	blob, err := ks.Encode(a.cfg.Dev)
	if err != nil {
		ks.Published = prev
		return err
	}
	w.published = prev
	c.Send(a.cfg.Audit, &audit.CommitKeyState{Ref: a.await(w), States: states, Name: RingKV, Blob: blob})
	return nil
}

// receivedKeys adds the keys other nodes published (key_state events of
// other origins, committed to this node's log) to the ring, verify-only,
// and persists the ring when it changed. A refused key is logged at WARN
// and reported to OnKeyRefused.
func (a *issuerActor) receivedKeys(c *actor.Context, m *audit.Committed) {
	changed := false
	for i := range m.Events {
		ev := &m.Events[i]
		if ev.Type != revocation.TypeKeyState || ev.Origin == a.cfg.NodeID {
			continue
		}
		ok, err := a.mergeKey(ev)
		if err != nil {
			reason := "invalid"
			switch {
			case errors.Is(err, ErrKeyConflict):
				reason = "conflict"
			case errors.Is(err, ErrKeyRevoked):
				reason = "revoked"
			case errors.Is(err, ErrTooManyKeys):
				reason = "too_many"
			}
			a.cfg.Logger.Warn("issuer: refused a signing key published by another node", "kid", ev.Value, "origin", ev.Origin, "reason", reason, "err", err)
			if a.cfg.OnKeyRefused != nil {
				a.cfg.OnKeyRefused(reason)
			}
			continue
		}
		if f := a.keys.Foreign[ev.Value]; ok && f != nil && !f.Own {
			a.cfg.Logger.Info("issuer: verifying the tokens of another node's signing key", "kid", ev.Value, "origin", ev.Origin)
		}
		changed = changed || ok
	}
	if changed {
		if err := a.persist(c, waiting{}); err != nil {
			a.cfg.Logger.Error("issuer: persist key ring", "err", err)
		}
	}
}

// mergeKey applies one key_state event of another node.
func (a *issuerActor) mergeKey(ev *revocation.Event) (bool, error) {
	st, err := revocation.UnmarshalKeyState(ev.Data)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrForeignKey, err)
	}
	if st.Kid != ev.Value {
		return false, fmt.Errorf("%w: payload of kid %q in the event of %q", ErrForeignKey, st.Kid, ev.Value)
	}
	k, err := keyOfState(st, a.cfg.WrapSecret)
	if err != nil {
		return false, err
	}
	return a.keys.Merge(ev.Origin, ev.TS, st, k, a.cfg.Now())
}

// revokedElsewhere takes out of the ring, for good, every key whose
// revoke_kid the audit writer committed without this actor's rotation (an
// event received from another node): the current key is replaced first,
// and the ring, which keeps revoked kids, is persisted, so the revocation
// holds after the event's index entry expires and across restarts.
func (a *issuerActor) revokedElsewhere(c *actor.Context, m *audit.Committed) {
	ring := a.cfg.Ring
	changed, newKid := false, ""
	for i := range m.Events {
		ev := &m.Events[i]
		if ev.Type != revocation.TypeKid || ring.IsRevoked(ev.Value) {
			continue
		}
		if cur := ring.Current(); cur != nil && cur.ID == ev.Value {
			next, err := newSigningKey(a.cfg.Algorithm)
			if err != nil {
				a.cfg.Logger.Error("issuer: generate key", "err", err)
				continue // the index still revokes it; the next event retries
			}
			a.rotateTo(next)
			newKid = next.ID
		}
		ring.Revoke(ev.Value)
		changed = true
		a.cfg.Logger.Warn("issuer: key revoked by a received revoke_kid", "kid", ev.Value, "origin", ev.Origin, "new_kid", newKid)
	}
	if !changed {
		return
	}
	if err := a.persist(c, waiting{newKid: newKid}); err != nil {
		a.cfg.Logger.Error("issuer: encode key ring", "err", err)
	}
}
