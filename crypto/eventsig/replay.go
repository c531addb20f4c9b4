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

// ReplayGuard reports event ids already seen within a TTL, so duplicates
// arriving from the network can be counted and dropped before they are
// applied again.
//
// It is an optimisation, not a safety mechanism: applying a revocation
// event twice is harmless (the index is idempotent), so a duplicate that
// arrives after the TTL, or after its id was evicted under memory pressure,
// is simply applied again. Memory is bounded by ReplayCapacity.
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

// Seen reports whether eventID was recorded within the last ttl; if not, it
// records it now and returns false. The window counts from the first
// sighting; a repeat inside the window does not extend it.
func (g *ReplayGuard) Seen(eventID string) bool {
	k := replayKey(eventID)
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	ns := now.UnixNano()
	if age := now.Sub(g.curStart); age >= g.ttl || age < 0 {
		g.rotate(now, age >= 2*g.ttl || age < 0)
	}
	if t, ok := g.cur[k]; ok && ns-t < int64(g.ttl) {
		return true
	}
	if t, ok := g.prev[k]; ok && ns-t < int64(g.ttl) {
		return true
	}
	if len(g.cur) >= g.max/2 {
		g.rotate(now, false) // memory bound: forget the oldest generation early
	}
	g.cur[k] = ns
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
