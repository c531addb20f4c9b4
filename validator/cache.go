package validator

import (
	"bytes"
	"hash/maphash"
	"sync"
)

// claimsCache remembers the Claims of tokens that validated, keyed by the
// token's exact bytes, so a warm token skips parsing and signature checks:
// Validate then only checks staleness, revocation and expiry. A token that
// verified once stays authentic; revocation (including revoke_kid, which
// also revokes the key) is checked on every hit, and expiry too. The
// token bytes are kept and compared in full, so a hash collision cannot
// return another token's claims. Safe for concurrent use.
//
// Why not only crypto/token's verified-token cache: it skips the signature
// but still parses the token (base64 and JSON), which is most of a warm
// Validate's cost; this cache returns Claims that already exist, without
// allocating. The token package's cache is turned off (same memory).
type claimsCache struct {
	seed     maphash.Seed
	perShard int
	shards   [claimsShards]claimsShard
}

// claimsShards is the number of lock shards (a hash's top 4 bits).
const claimsShards = 16

type claimsShard struct {
	mu sync.RWMutex
	m  map[uint64]*cachedClaims
	_  [40]byte // keep shards on separate cache lines
}

// cachedClaims is one validated token.
type cachedClaims struct {
	tok            []byte
	c              Claims
	iat            int64
	expiresNs      int64  // exp + leeway in Unix ns (MaxInt64: no exp)
	jti, sub, kidB []byte // views of c's strings, for index.CheckBytes
}

func newClaimsCache(size int) *claimsCache {
	c := &claimsCache{seed: maphash.MakeSeed(), perShard: max(size/claimsShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]*cachedClaims)
	}
	return c
}

// hash keys a token by its length and its last 64 bytes, which lie in the
// signature: random for every token, so they spread tokens as well as the
// whole would, without hashing 4.5 KB for an ML-DSA-65 token. Tokens
// whose keys collide only evict each other; get compares whole tokens.
func (c *claimsCache) hash(tok []byte) uint64 {
	tail := tok[max(len(tok)-64, 0):]
	return maphash.Bytes(c.seed, tail) ^ uint64(len(tok))*0x9e3779b97f4a7c15
}

func (c *claimsCache) get(tok []byte) *cachedClaims {
	h := c.hash(tok)
	s := &c.shards[h>>60]
	s.mu.RLock()
	e := s.m[h]
	s.mu.RUnlock()
	if e != nil && bytes.Equal(e.tok, tok) {
		return e
	}
	return nil
}

func (c *claimsCache) put(tok []byte, e *cachedClaims) {
	e.tok = bytes.Clone(tok)
	h := c.hash(tok)
	s := &c.shards[h>>60]
	s.mu.Lock()
	if _, ok := s.m[h]; !ok && len(s.m) >= c.perShard {
		for victim := range s.m { // random eviction: map order
			delete(s.m, victim)
			break
		}
	}
	s.m[h] = e
	s.mu.Unlock()
}

// drop forgets tok (an expired token).
func (c *claimsCache) drop(tok []byte) {
	h := c.hash(tok)
	s := &c.shards[h>>60]
	s.mu.Lock()
	delete(s.m, h)
	s.mu.Unlock()
}
