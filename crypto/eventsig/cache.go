package eventsig

import "sync"

// defaultCacheSize bounds the verified-root cache (32 bytes per entry).
const defaultCacheSize = 4096

// rootCache remembers verified (key id, public key, root, signature)
// digests. It keeps two generations of at most size/2 entries each, so it
// is bounded and recently used entries survive. Safe for concurrent use.
type rootCache struct {
	mu        sync.Mutex
	size      int
	cur, prev map[[hashSize]byte]struct{}
}

func newRootCache(size int) *rootCache {
	return &rootCache{size: size, cur: map[[hashSize]byte]struct{}{}}
}

func (c *rootCache) contains(k [hashSize]byte) bool {
	if c.size <= 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cur[k]; ok {
		return true
	}
	if _, ok := c.prev[k]; ok {
		c.insertLocked(k) // promote
		return true
	}
	return false
}

func (c *rootCache) add(k [hashSize]byte) {
	if c.size <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.insertLocked(k)
}

func (c *rootCache) insertLocked(k [hashSize]byte) {
	if len(c.cur) >= max(c.size/2, 1) {
		c.prev, c.cur = c.cur, make(map[[hashSize]byte]struct{}, c.size/2)
	}
	c.cur[k] = struct{}{}
}

func (c *rootCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.prev)
}
