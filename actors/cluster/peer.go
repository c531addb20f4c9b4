package cluster

import (
	"time"

	"github.com/anthdm/hollywood/actor"
)

// peer is the replicator's view of one configured peer. It is owned by
// the replicator actor: nothing else reads or writes it (Broadcast and
// Status read the published snapshot instead).
type peer struct {
	id, addr string
	pid      *actor.PID // the peer's replicator, at its configured address
	source   string     // "peer:<id>", the Ingest source
	child    *actor.PID // the peerWorker actor doing this peer's resends and ingest

	connected bool
	lastSeen  time.Time // when the last message from the peer arrived; zero: never
	// settled latches once the start-up catch-up with this peer is done:
	// its digest is covered, it was unreachable, or StartupGrace passed.
	settled bool
	probing bool
	// theirHave is the last digest received (nil before the first Hello).
	// It is replaced, never modified, so a snapshot may share it.
	theirHave map[string]uint64
	lastHello time.Time // when a Hello was last sent
	// queued counts batches handed to the child for ingest and not yet
	// reported back (bounded by ingestQueue).
	queued int
	// problem, when set, is why the peer's events or key are refused
	// (see trust.go); warned holds the problems already logged.
	problem string
	warned  map[string]bool
	// sealed is the peer's trusted key announcement, relayed to the
	// other peers.
	sealed []byte
}

func newPeer(p Peer) *peer {
	return &peer{id: p.ID, addr: p.Addr, pid: PIDFor(p.Addr), source: "peer:" + p.ID}
}

// setDigest records a copy of the peer's digest.
func (p *peer) setDigest(have map[string]uint64) {
	cp := make(map[string]uint64, len(have))
	for o, s := range have {
		cp[o] = s
	}
	p.theirHave = cp
}
