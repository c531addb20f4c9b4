package dpop

import (
	"sync"
	"time"
)

// ReplayCache remembers proof jtis until they expire, with a bounded number
// of entries. It is safe for concurrent use. When full (after dropping the
// expired entries) it refuses new entries: failing closed keeps a replay
// from slipping through an evicted slot; clients retry with a fresh proof
// once old ones expire.
//
// Scope: one cache per process. In a cluster each node checks only the
// proofs it saw itself, so a proof may be replayed once against each other
// node within the iat window (keep the window short, or pin clients).
type ReplayCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]time.Time
}

// NewReplayCache returns a cache of at most max entries (at least 1).
func NewReplayCache(max int) *ReplayCache {
	if max < 1 {
		max = 1
	}
	return &ReplayCache{max: max, entries: make(map[string]time.Time)}
}

// Add records key until exp and reports whether it was new (and stored).
// now is the current time, for dropping expired entries.
func (c *ReplayCache) Add(key string, exp, now time.Time) bool {
	return c.add(key, exp, now) == nil
}

// add is Add returning why a key was not stored: ErrReplay (seen) or
// ErrReplayCacheFull.
func (c *ReplayCache) add(key string, exp, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && now.Before(e) {
		return ErrReplay
	}
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.max {
			return ErrReplayCacheFull
		}
	}
	c.entries[key] = exp
	return nil
}

// Len returns the number of entries held.
func (c *ReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
