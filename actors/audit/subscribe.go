package audit

import "github.com/anthdm/hollywood/actor"

// Subscribe adds PID to the actors that receive a *Committed after each
// commit, beside Config.Subscribers: for an actor spawned after the writer
// (the issuer, which must learn of every revoke_kid, local or received).
type Subscribe struct {
	PID *actor.PID
}
