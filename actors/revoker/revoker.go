// Package revoker is the revocation actor: it turns revocation requests
// (POST /revoke, refresh-token logout, OAuth 2.0 revocation) into revocation
// events with the right lifetime and side effects, and hands them to the
// audit writer, which answers the requester once the event is durable.
package revoker

import (
	"errors"
	"log/slog"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/revocd/revocd/actors/audit"
	"github.com/revocd/revocd/actors/issuer"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
)

// ErrUnknownRefresh is returned when a refresh token to revoke is not known
// to this node's audit log.
var ErrUnknownRefresh = errors.New("Unknown refresh token")

// ErrNoIndex is returned for a subject revocation when Config.Index is nil:
// its cutoff cannot be reserved.
var ErrNoIndex = errors.New("revoker: subject revocation needs the revocation index")

// Config configures the revocation actor.
type Config struct {
	Audit  *actor.PID
	Issuer *actor.PID
	// Index is the node's revocation index; a subject revocation reserves
	// its cutoff there (index.Index.ReserveSubCutoff) so that it covers
	// every token issued before it and none issued after. Required for
	// revoke_sub.
	Index *index.Index
	// MaxLifetime is the longest lifetime of any token the service issues:
	// the default lifetime of a revocation whose token expiry is unknown.
	MaxLifetime time.Duration
	// RequestTimeout bounds the wait for a key rotation on revoke_kid.
	RequestTimeout time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
}

// Revoke asks for a revocation. The reply, from the audit writer, is an
// *audit.Result whose Value is the committed *revocation.Event.
type Revoke struct {
	Type   revocation.Type
	Value  string
	TTL    time.Duration // 0: until the token's expiry when known, else MaxLifetime
	Reason string
}

// RevokeRefresh revokes one refresh token (logout). The reply is an
// *audit.Result whose Value is the committed *revocation.Event of the
// refresh jti (also when an earlier request of the same group commit
// revoked it), or an *AlreadyRevoked when this node's refresh-token state
// shows the token revoked already: then nothing is written.
type RevokeRefresh struct {
	JTI       string
	ExpiresAt time.Time
}

// AlreadyRevoked is the reply value of a RevokeRefresh for a token that was
// revoked before: nothing was written. EventID and LogID (its audit-log
// position, revocation_events.id) name the stored revocation event of the
// token's jti when there is one (see sqlitestore.Tx.JTIRevocation); both
// are zero when the token died otherwise (a subject revocation, or a
// revoke_jti with an explicit TTL).
type AlreadyRevoked struct {
	EventID string
	LogID   int64
}

type revokerActor struct{ cfg Config }

// New returns the actor producer.
func New(cfg Config) actor.Producer {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	return func() actor.Receiver { return &revokerActor{cfg: cfg} }
}

// Receive implements actor.Receiver.
func (a *revokerActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case *Revoke:
		a.revoke(c, m)
	case *RevokeRefresh:
		op := func(b *audit.Batch) (any, error) { return revokeRefreshOp(b, m) }
		c.Engine().SendWithSender(a.cfg.Audit, &audit.Submit{Op: op}, c.Sender())
	}
}

// revokeRefreshOp runs inside the group-commit transaction: it marks the
// refresh token revoked and emits the revocation event of its jti, unless
// the token was revoked already (then it writes nothing: repeating a logout
// must not amplify into events fanned out to every destination).
func revokeRefreshOp(b *audit.Batch, m *RevokeRefresh) (any, error) {
	row, revoked, err := b.Tx.RevokeRefresh(m.JTI, "logout")
	if err != nil {
		return nil, err
	}
	exp := m.ExpiresAt.UnixMilli()
	if !revoked && row.JTI != "" {
		if ev := b.Pending(revocation.TypeJTI, m.JTI); ev != nil {
			return ev, nil // revoked by an earlier request of this batch
		}
		prev := &AlreadyRevoked{}
		id, logID, found, err := b.Tx.JTIRevocation(m.JTI, max(exp, row.ExpiresAt))
		if err != nil {
			return nil, err
		}
		if found {
			prev.EventID, prev.LogID = id, logID
		}
		return prev, nil
	}
	// Unknown here (a token of another node) or revoked just now.
	if revoked && row.ExpiresAt > exp {
		exp = row.ExpiresAt
	}
	if exp <= b.Now().UnixMilli() {
		// Expired, but still inside the verifier's leeway.
		exp = b.Now().Add(time.Minute).UnixMilli()
	}
	_ = b.TokenEvent(sqlitestore.TokenEvent{Event: "refresh_revoke", Subject: row.Subject, JTI: m.JTI})
	return b.Revoke(revocation.Event{Type: revocation.TypeJTI, Value: m.JTI, ExpiresAt: exp, Reason: "refresh token revoked"}), nil
}

func (a *revokerActor) revoke(c *actor.Context, m *Revoke) {
	if m.Type == revocation.TypeKid && a.cfg.Issuer != nil {
		// The issuer must stop signing with a revoked key before the
		// revocation is acknowledged.
		res, err := c.Engine().Request(a.cfg.Issuer, &issuer.RotateKey{IfCurrent: m.Value}, a.cfg.RequestTimeout).Result()
		if err == nil {
			if r, ok := res.(*issuer.Reply); ok && r.Err != nil {
				err = r.Err
			}
		}
		if err != nil {
			a.cfg.Logger.Error("revoker: rotate revoked key", "kid", m.Value, "err", err)
			c.Respond(&audit.Result{Err: err})
			return
		}
	}
	cfg := a.cfg
	op := func(b *audit.Batch) (any, error) { return revokeOp(b, cfg, m) }
	c.Engine().SendWithSender(a.cfg.Audit, &audit.Submit{Op: op}, c.Sender())
}

// revokeOp runs inside the group-commit transaction: it records the
// revocation event of m with its side effects on the refresh-token state.
func revokeOp(b *audit.Batch, cfg Config, m *Revoke) (any, error) {
	now := b.Now()
	ev := revocation.Event{Type: m.Type, Value: m.Value, Reason: m.Reason}
	if ev.Reason == "" {
		ev.Reason = "api"
	}
	exp := now.Add(cfg.MaxLifetime)
	switch m.Type {
	case revocation.TypeJTI:
		// If the jti is a refresh token's, its stored state is revoked in
		// this same transaction, so a refresh queued behind this
		// revocation (even in the same batch) cannot rotate it. (One
		// already revoked keeps the default lifetime, a safe upper bound.)
		row, _, err := b.Tx.RevokeRefreshIfActive(m.Value, "revoked by jti")
		if err != nil {
			return nil, err
		}
		if row.ExpiresAt > now.UnixMilli() {
			exp = time.UnixMilli(row.ExpiresAt) // known from the audit log
		}
	case revocation.TypeSub:
		if cfg.Index == nil {
			return nil, ErrNoIndex
		}
		// The cutoff is reserved under the index's subject lock, so this
		// revocation covers every token issued before it and none issued
		// after it, even within one second; TS carries it to every node
		// (revocation.Event.SubCutoff). Tokens with iat <= cutoff live at
		// most MaxLifetime past it.
		cutoff := cfg.Index.ReserveSubCutoff(m.Value)
		ev.TS = subEventTS(cutoff, now)
		exp = time.UnixMilli(ev.TS).Add(cfg.MaxLifetime)
		if _, err := b.Tx.RevokeRefreshBySubject(m.Value, ev.TS, "subject revoked"); err != nil {
			return nil, err
		}
	}
	if m.TTL > 0 {
		exp = now.Add(m.TTL)
	}
	ev.ExpiresAt = exp.UnixMilli()
	return b.Revoke(ev), nil
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
