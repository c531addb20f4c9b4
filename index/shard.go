package index

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// cacheLine is the padding unit between shard sections. 128 bytes rather
// than 64 keeps adjacent-line prefetching (Intel) from coupling neighbours.
const cacheLine = 128

// subEntry is a subject revocation: tokens of the subject with iat <= cutoff
// are revoked until the entry expires.
type subEntry struct {
	cutoff int64  // Unix seconds; math.MaxInt64 revokes every token
	exp    uint32 // expiry, Unix seconds (see expiry.go)
}

// shardRead is the part of a shard read by every Check, including the
// lock-free miss path: the Bloom filter pointers and the map headers (the
// map variables never change after New; their contents are guarded by mu).
// Each kind has its own filter, so the small sub and kid filters stay in
// cache instead of sharing (and missing in) the large jti filter.
type shardRead struct {
	bloom [numKinds - 1]atomic.Pointer[bloomFilter] // by Kind-1: JTI, Sub, Kid
	uuid  map[[16]byte]uint32                       // jti entries whose jti is a canonical UUID
	str   map[string]uint32                         // all other jti entries
	sub   map[string]subEntry                       // subject entries
	kid   map[string]uint32                         // key id entries
}

// shardWrite is the part of a shard written by writers and by lookups that
// pass the Bloom filter. It lives on its own cache lines so that locking a
// shard does not evict the read-mostly section from other cores' caches.
type shardWrite struct {
	mu        sync.RWMutex
	bloomKeys [numKinds - 1]int // by Kind-1: keys added to the current filter (live + stale); guarded by mu
	falsePos  atomic.Uint64     // Bloom positives that found no entry
	// floors holds, per subject, the smallest iat a token issued from now
	// on may carry (subcutoff.go); nil until the first reservation.
	// Guarded by mu.
	floors map[string]int64
	// floorPruneAt is the floors size at which the next new floor prunes
	// the stale ones first. Guarded by mu.
	floorPruneAt int
}

// shard is one lock domain of the index: a subset of the keys of every kind
// (chosen by hash) with their own Bloom filter. Padded so that shards do not
// share cache lines.
type shard struct {
	shardRead
	_ [cacheLine - unsafe.Sizeof(shardRead{})%cacheLine]byte
	shardWrite
	_ [cacheLine - unsafe.Sizeof(shardWrite{})%cacheLine]byte
}

// init makes the shard's maps and empty filters of the given capacities
// (by Kind-1).
func (s *shard) init(capacity *[numKinds - 1]int, bitsPerKey float64) {
	s.uuid = make(map[[16]byte]uint32)
	s.str = make(map[string]uint32)
	s.sub = make(map[string]subEntry)
	s.kid = make(map[string]uint32)
	for i := range s.bloom {
		s.bloom[i].Store(newBloomFilter(capacity[i], bitsPerKey))
	}
}

// filter returns the current Bloom filter of kind k (JTI, Sub or Kid).
func (s *shard) filter(k Kind) *bloomFilter { return s.bloom[k-1].Load() }

// lenLocked returns the number of entries of kind k in the shard (expired
// ones not yet swept included). The caller holds mu (read or write).
func (s *shard) lenLocked(k Kind) int {
	switch k {
	case JTI:
		return len(s.uuid) + len(s.str)
	case Sub:
		return len(s.sub)
	default:
		return len(s.kid)
	}
}
