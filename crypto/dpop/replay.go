package dpop

import (
	"crypto/sha256"
	"sync"
	"time"
)

// ReplayCache remembers proof jtis until they expire, with a bounded number
// of entries. It is safe for concurrent use. When full (after dropping the
// expired entries) it refuses new entries: failing closed keeps a replay
// from slipping through an evicted slot; clients retry with a fresh proof
// once old ones expire.
//
// Each entry costs about 70 bytes whatever the jti's length (a 16-byte
// digest of the key, its expiry, and its place in a per-second expiry
// bucket), and expired entries are dropped a whole second at a time, so
// adding stays O(1) however full the cache is.
//
// Scope: one cache per process. In a cluster each node checks only the
// proofs it saw itself, so a proof may be replayed once against each other
// node within the iat window (keep the window short, or pin clients).
type ReplayCache struct {
	mu  sync.Mutex
	max int
	// expiry is each key's expiry in Unix milliseconds.
	expiry map[replayKey]int64
	// buckets lists the keys by the Unix second of their expiry, for
	// dropping them once that second is over.
	buckets map[int64][]replayKey
	// swept is the first second whose bucket may still hold entries.
	swept int64
}

// replayKey is a digest of a cache key: the cache's memory does not depend
// on the length of the jtis clients choose.
type replayKey [16]byte

// NewReplayCache returns a cache of at most max entries (at least 1).
func NewReplayCache(max int) *ReplayCache {
	if max < 1 {
		max = 1
	}
	return &ReplayCache{max: max, expiry: make(map[replayKey]int64), buckets: make(map[int64][]replayKey)}
}

// Add records key until exp and reports whether it was new (and stored).
// now is the current time, for dropping expired entries.
func (c *ReplayCache) Add(key string, exp, now time.Time) bool {
	return c.add(key, exp, now) == nil
}

// add is Add returning why a key was not stored: ErrReplay (seen) or
// ErrReplayCacheFull.
func (c *ReplayCache) add(key string, exp, now time.Time) error {
	sum := sha256.Sum256([]byte(key))
	k := replayKey(sum[:16])
	nowMs, expMs := now.UnixMilli(), exp.UnixMilli()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.expiry[k]; ok && nowMs < e {
		return ErrReplay
	}
	c.sweep(nowMs)
	if len(c.expiry) >= c.max {
		return ErrReplayCacheFull
	}
	c.expiry[k] = expMs
	sec := floorDiv(expMs, 1000)
	c.buckets[sec] = append(c.buckets[sec], k)
	if sec < c.swept {
		c.swept = sec
	}
	return nil
}

// sweep drops the buckets of every second that is over at nowMs. It steps
// second by second from the last sweep, or, after a long idle time, walks
// the (few) buckets instead.
func (c *ReplayCache) sweep(nowMs int64) {
	over := floorDiv(nowMs, 1000) // seconds before this one are over
	if over-c.swept > int64(len(c.buckets)) {
		for sec := range c.buckets {
			if sec < over {
				c.drop(sec)
			}
		}
	} else {
		for sec := c.swept; sec < over; sec++ {
			c.drop(sec)
		}
	}
	if over > c.swept {
		c.swept = over
	}
}

// drop forgets the keys of bucket sec that still expire in that second (a
// key added again since expires later and stays).
func (c *ReplayCache) drop(sec int64) {
	for _, k := range c.buckets[sec] {
		if e, ok := c.expiry[k]; ok && floorDiv(e, 1000) == sec {
			delete(c.expiry, k)
		}
	}
	delete(c.buckets, sec)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Len returns the number of entries held.
func (c *ReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.expiry)
}
