package cluster

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"
)

// peer is the replicator's view of one configured peer. The atomics and
// the mutex-guarded digest are written by the replicator actor and read by
// Broadcast (audit writer goroutine) and Status (HTTP goroutines); the
// plain fields are set once at construction or owned by the actor.
type peer struct {
	id, addr string
	pid      *actor.PID
	source   string // "peer:<id>", the Ingest source

	connected atomic.Bool
	lastSeen  atomic.Int64 // Unix ns of the last message from the peer; 0 = never
	// settled latches once the start-up catch-up with this peer is done:
	// its digest is covered, it was unreachable, or StartupGrace passed.
	settled atomic.Bool
	probing atomic.Bool

	mu        sync.Mutex
	theirHave map[string]uint64 // last digest received; nil before the first Hello

	lastHello time.Time // actor-owned: when a Hello was last sent
	resend    *resender
}

func newPeer(p Peer) *peer {
	return &peer{id: p.ID, addr: p.Addr, pid: PIDFor(p.Addr), source: "peer:" + p.ID}
}

func (p *peer) setDigest(have map[string]uint64) {
	cp := make(map[string]uint64, len(have))
	for o, s := range have {
		cp[o] = s
	}
	p.mu.Lock()
	p.theirHave = cp
	p.mu.Unlock()
}

// digest returns the last digest received (nil before the first Hello);
// callers must not modify it.
func (p *peer) digest() map[string]uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.theirHave
}
