package token

import (
	"bytes"
	"hash/maphash"
	"sync"
)

// cacheShards is the number of independently locked cache shards.
const cacheShards = 16

// verifiedCache remembers tokens whose asymmetric signature verified, so a
// token presented again skips the signature check (but still goes through
// parsing, key lookup, alg, exp/nbf and iss checks). Entries are keyed by a
// seeded maphash of the whole token and hold a copy of the token, compared
// in full on every hit (collision-safe), and the *Key that verified it: a
// hit requires the same key to still be in the ring under that kid, so
// removing or replacing a key invalidates its entries. Each shard holds at
// most ceil(size/16) entries; when full, a pseudo-random entry (Go's map
// iteration order) is evicted. Safe for concurrent use.
type verifiedCache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[uint64]*cacheEntry
	_  [40]byte // keep shards on separate cache lines
}

type cacheEntry struct {
	tok []byte
	key *Key
}

func newVerifiedCache(size int) *verifiedCache {
	c := &verifiedCache{seed: maphash.MakeSeed(), perShard: max(1, (size+cacheShards-1)/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]*cacheEntry, c.perShard)
	}
	return c
}

func (c *verifiedCache) shard(h uint64) *cacheShard { return &c.shards[h>>60] }

// contains reports whether tok was verified with key.
func (c *verifiedCache) contains(tok []byte, key *Key) bool {
	h := maphash.Bytes(c.seed, tok)
	s := c.shard(h)
	s.mu.RLock()
	e := s.m[h]
	s.mu.RUnlock()
	return e != nil && e.key == key && bytes.Equal(e.tok, tok)
}

// add records that tok was verified with key.
func (c *verifiedCache) add(tok []byte, key *Key) {
	h := maphash.Bytes(c.seed, tok)
	e := &cacheEntry{tok: bytes.Clone(tok), key: key}
	s := c.shard(h)
	s.mu.Lock()
	if _, ok := s.m[h]; !ok && len(s.m) >= c.perShard {
		for victim := range s.m {
			delete(s.m, victim)
			break
		}
	}
	s.m[h] = e
	s.mu.Unlock()
}

// len returns the number of entries (for tests).
func (c *verifiedCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
