package eventsig

import (
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultReplayTTL is the replay window used when NewReplayGuard is given
// a non-positive ttl (NONCE_TTL_SECONDS defaults to 180).
const DefaultReplayTTL = 180 * time.Second

// ReplayCapacity bounds the event ids a ReplayGuard remembers (about 40 MB
// of 16-byte digests and timestamps at most). At 10,000 events/s it covers
// about 100 s of ids; past it the oldest ids are forgotten early.
const ReplayCapacity = 1 << 20

// ReplayGuard remembers, for a TTL, the ids of events that were made
// durable, so duplicates arriving from the network can be counted and
// dropped before they are applied again.
//
// Checking and recording are separate steps on purpose: a receiver asks
// Seen before it commits an event and calls Record only once the commit was
// acknowledged. An event whose commit failed is therefore not a replay when
// it is delivered again: a replay is decided against what is durable, never
// against what was merely received.
//
// It is an optimisation, not a safety mechanism: applying a revocation
// event twice is harmless (the index is idempotent and the audit log ignores
// duplicate event ids), so a duplicate that arrives after the TTL, after its
// id was evicted under memory pressure, or while its first copy is still
// being committed, is simply applied again. Memory is bounded by
// ReplayCapacity.
//
// A ReplayGuard is safe for concurrent use.
type ReplayGuard struct {
	ttl time.Duration
	now func() time.Time
	max int

	mu        sync.Mutex
	curStart  time.Time
	cur, prev map[[16]byte]int64 // id digest -> first seen (Unix ns)
}

// NewReplayGuard returns a ReplayGuard with window ttl (DefaultReplayTTL if
// ttl <= 0) reading time from now (time.Now if nil).
func NewReplayGuard(ttl time.Duration, now func() time.Time) *ReplayGuard {
	if ttl <= 0 {
		ttl = DefaultReplayTTL
	}
	if now == nil {
		now = time.Now
	}
	return &ReplayGuard{ttl: ttl, now: now, max: ReplayCapacity, curStart: now(), cur: map[[16]byte]int64{}}
}

// Seen reports whether eventID was recorded within the last ttl. It
// records nothing: call Record once the event is durable.
func (g *ReplayGuard) Seen(eventID string) bool {
	k := replayKey(eventID)
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	g.expire(now)
	return g.has(k, now.UnixNano())
}

// Record remembers eventID for ttl from now, unless it is already
// remembered: the window counts from the first recording, a repeat inside
// it does not extend it. Call it only after the event was made durable (or
// delivered, for a receiver whose destination is not this node).
func (g *ReplayGuard) Record(eventID string) {
	k := replayKey(eventID)
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	ns := now.UnixNano()
	g.expire(now)
	if g.has(k, ns) {
		return
	}
	if len(g.cur) >= g.max/2 {
		g.rotate(now, false) // memory bound: forget the oldest generation early
	}
	g.cur[k] = ns
}

// expire rotates the generations when the current one is older than ttl
// (both are dropped after 2*ttl or a backwards clock step). g.mu is held.
func (g *ReplayGuard) expire(now time.Time) {
	if age := now.Sub(g.curStart); age >= g.ttl || age < 0 {
		g.rotate(now, age >= 2*g.ttl || age < 0)
	}
}

// has reports whether k was recorded within ttl of ns. g.mu is held.
func (g *ReplayGuard) has(k [16]byte, ns int64) bool {
	if t, ok := g.cur[k]; ok && ns-t < int64(g.ttl) {
		return true
	}
	if t, ok := g.prev[k]; ok && ns-t < int64(g.ttl) {
		return true
	}
	return false
}

// rotate starts a new generation; every id in the old previous generation
// is older than ttl (or dropped for the memory bound).
func (g *ReplayGuard) rotate(now time.Time, dropAll bool) {
	g.prev = g.cur
	if dropAll {
		g.prev = nil
	}
	g.cur = make(map[[16]byte]int64)
	g.curStart = now
}

// Len returns the number of ids currently remembered (some may be expired).
func (g *ReplayGuard) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.cur) + len(g.prev)
}

// replayKey is a 128-bit digest of the id: fixed memory per entry whatever
// the id length, and no practical false "seen" for distinct ids.
func replayKey(id string) [16]byte {
	sum := sha256.Sum256([]byte(id))
	return [16]byte(sum[:16])
}
