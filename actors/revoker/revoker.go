// Package revoker is the revocation actor: it turns revocation requests
// (POST /revoke, refresh-token logout, OAuth 2.0 revocation) into audit
// writer commands with the right lifetime, and answers the requester once
// the event is durable.
//
// A revocation's walk: the handler sends *Revoke or *RevokeRefresh; the
// actor sends the matching audit command (carrying the requester in its
// audit.Ref); the audit writer commits, signs, applies to the index and
// replies here; the actor forwards the typed answer (*Revoked,
// *AlreadyRevoked or *Failed) to the requester. For revoke_kid the actor
// first sends the issuer a RotateKey (which rotates when the kid is the
// current signing key, and drops it from the ring in any case) and commits
// the revocation only when the issuer's *issuer.Rotated arrives, once the
// ring is durable: the key is out of use before the revocation is
// acknowledged. The actor never waits inside Receive.
package revoker

import (
	"log/slog"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/revocd/revocd/actors/audit"
	"github.com/revocd/revocd/actors/issuer"
	"github.com/revocd/revocd/actors/msg"
	"github.com/revocd/revocd/revocation"
)

// ErrUnavailable (errors.Is) is the error of a *Failed answer whose audit
// transaction failed: nothing was recorded.
var ErrUnavailable = msg.ErrUnavailable

// ErrNoIndex is returned for a subject revocation when the audit writer has
// no revocation index: its cutoff cannot be reserved.
var ErrNoIndex = audit.ErrNoIndex

// Config configures the revocation actor.
type Config struct {
	Audit *actor.PID
	// Issuer, if set, rotates the signing key before a revoke_kid of it is
	// committed.
	Issuer *actor.PID
	// MaxLifetime is the longest lifetime of any token the service issues:
	// the default lifetime of a revocation whose token expiry is unknown.
	MaxLifetime time.Duration
	Logger      *slog.Logger
}

// The revocation actor's requests and answers (declared in actors/msg, so
// that the HTTP layer can use them without depending on this package).
type (
	// Revoke asks for a revocation. Answer: *Revoked.
	Revoke = msg.Revoke
	// RevokeRefresh revokes one refresh token (logout). Answer: *Revoked,
	// or *AlreadyRevoked when it was revoked before (nothing is written).
	RevokeRefresh = msg.RevokeRefresh
	// Revoked answers a revocation with the committed event.
	Revoked = msg.Revoked
	// AlreadyRevoked answers a RevokeRefresh of a token revoked before.
	AlreadyRevoked = msg.AlreadyRevoked
	// Failed answers a revocation that was not recorded.
	Failed = msg.Failed
)

// kidRevocation is a revoke_kid waiting for the issuer's rotation.
type kidRevocation struct {
	msg       *Revoke
	requester *actor.PID
}

type revokerActor struct {
	cfg     Config
	nextID  uint64
	waiting map[uint64]kidRevocation
}

// New returns the actor producer.
func New(cfg Config) actor.Producer {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return func() actor.Receiver { return &revokerActor{cfg: cfg, waiting: map[uint64]kidRevocation{}} }
}

// Receive implements actor.Receiver.
func (a *revokerActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case *Revoke:
		if m.Type == revocation.TypeKid && a.cfg.Issuer != nil {
			// The issuer must stop signing with a revoked key before the
			// revocation is acknowledged: rotate first, commit on its reply.
			a.nextID++
			a.waiting[a.nextID] = kidRevocation{msg: m, requester: c.Sender()}
			c.Send(a.cfg.Issuer, &issuer.RotateKey{IfCurrent: m.Value, ID: a.nextID})
			return
		}
		a.commit(c, m, c.Sender())
	case *RevokeRefresh:
		c.Send(a.cfg.Audit, &audit.RevokeRefresh{Ref: audit.Ref{To: c.Sender()}, JTI: m.JTI, ExpiresAt: m.ExpiresAt})

	case *issuer.Rotated:
		if w, ok := a.take(m.ID); ok {
			a.commit(c, w.msg, w.requester)
		}
	case *issuer.Failed:
		if w, ok := a.take(m.ID); ok {
			a.cfg.Logger.Error("revoker: rotate revoked key", "kid", w.msg.Value, "err", m.Err)
			reply(c, w.requester, &Failed{Err: m.Err})
		}

	case *audit.Revoked:
		reply(c, m.To, &Revoked{Event: m.Event, LogID: m.LogID})
	case *audit.AlreadyRevoked:
		reply(c, m.To, &AlreadyRevoked{EventID: m.EventID, LogID: m.LogID})
	case *audit.Failed:
		reply(c, m.To, &Failed{Err: m.Err})
	}
}

func (a *revokerActor) take(id uint64) (kidRevocation, bool) {
	w, ok := a.waiting[id]
	delete(a.waiting, id)
	return w, ok
}

// commit sends the audit writer the revocation m of requester.
func (a *revokerActor) commit(c *actor.Context, m *Revoke, requester *actor.PID) {
	c.Send(a.cfg.Audit, &audit.CommitRevocation{
		Ref:  audit.Ref{To: requester},
		Type: m.Type, Value: m.Value, TTL: m.TTL, Reason: m.Reason, MaxLifetime: a.cfg.MaxLifetime,
	})
}

func reply(c *actor.Context, to *actor.PID, msg any) {
	if to != nil {
		c.Send(to, msg)
	}
}
