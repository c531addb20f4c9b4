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
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
)

// ErrUnknownRefresh is returned when a refresh token to revoke is not known
// to this node's audit log.
var ErrUnknownRefresh = errors.New("Unknown refresh token")

// Config configures the revocation actor.
type Config struct {
	Audit  *actor.PID
	Issuer *actor.PID
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
// *audit.Result with the committed *revocation.Event of the refresh jti.
type RevokeRefresh struct {
	JTI       string
	ExpiresAt time.Time
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
		op := func(b *audit.Batch) (any, error) {
			row, ok, err := b.Tx.RevokeRefresh(m.JTI, "logout")
			if err != nil {
				return nil, err
			}
			exp := m.ExpiresAt.UnixMilli()
			if ok && row.ExpiresAt > exp {
				exp = row.ExpiresAt
			}
			if exp <= b.Now().UnixMilli() {
				exp = b.Now().Add(time.Minute).UnixMilli()
			}
			_ = b.TokenEvent(sqlitestore.TokenEvent{Event: "refresh_revoke", Subject: row.Subject, JTI: m.JTI})
			return b.Revoke(revocation.Event{Type: revocation.TypeJTI, Value: m.JTI, ExpiresAt: exp, Reason: "refresh token revoked"}), nil
		}
		c.Engine().SendWithSender(a.cfg.Audit, &audit.Submit{Op: op}, c.Sender())
	}
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
	op := func(b *audit.Batch) (any, error) {
		now := b.Now()
		exp := now.Add(cfg.MaxLifetime)
		if m.TTL > 0 {
			exp = now.Add(m.TTL)
		}
		switch m.Type {
		case revocation.TypeJTI:
			if m.TTL == 0 {
				// A refresh token's expiry is known from the audit log.
				if row, ok, err := b.Tx.GetRefresh(m.Value); err == nil && ok && row.ExpiresAt > now.UnixMilli() {
					exp = time.UnixMilli(row.ExpiresAt)
				}
			}
		case revocation.TypeSub:
			if _, err := b.Tx.RevokeRefreshBySubject(m.Value, now.UnixMilli(), "subject revoked"); err != nil {
				return nil, err
			}
		}
		reason := m.Reason
		if reason == "" {
			reason = "api"
		}
		return b.Revoke(revocation.Event{Type: m.Type, Value: m.Value, ExpiresAt: exp.UnixMilli(), Reason: reason}), nil
	}
	c.Engine().SendWithSender(a.cfg.Audit, &audit.Submit{Op: op}, c.Sender())
}
