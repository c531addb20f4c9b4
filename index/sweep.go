package index

// Bloom filter maintenance. Bits cannot be cleared from a Bloom filter, so
// each shard counts the keys added to each of its per-kind filters
// (bloomKeys: live entries plus stale ones that were swept or removed
// since) and replaces a filter with a fresh one built from the live entries
// of its kind when
//   - a writer pushes bloomKeys past the filter's capacity (the filter grows
//     to at least twice the live entries, so growth costs amortised O(1) per
//     insert); this keeps bloomKeys <= capacity at all times, and with it the
//     false-positive rate at or below the configured target, or
//   - Sweep finds at least as many stale keys as live ones and the stale
//     keys fill at least a quarter of the capacity (a rebuild would then cut
//     the false-positive rate substantially; the filter also shrinks back
//     toward its base size).
// A rebuild runs under the shard's write lock; Bloom readers keep using the
// old filter (a superset of the live keys) until the new one is published.

// addedLocked records a new key with hash h of kind k in shard s: it sets
// the key's Bloom bits and grows the filter when it is full. The caller holds
// s.mu for writing and has just inserted the key into the shard's map.
func (ix *Index) addedLocked(s *shard, h uint64, k Kind) {
	f := s.filter(k)
	f.add(h)
	s.bloomKeys[k-1]++
	ix.counts[k].Add(1)
	if s.bloomKeys[k-1] > f.capacity {
		ix.rebuildLocked(s, k)
	}
}

// rebuildLocked replaces the shard's filter of kind k by one holding exactly
// its current entries of that kind, sized for at least twice as many (and
// at least the base capacity). The caller holds s.mu for writing.
func (ix *Index) rebuildLocked(s *shard, k Kind) {
	n := s.lenLocked(k)
	capacity := ix.baseCap[k-1]
	for capacity < 2*n {
		capacity *= 2
	}
	f := newBloomFilter(capacity, ix.bitsPerKey)
	switch k {
	case JTI:
		for u := range s.uuid {
			f.addUnpublished(ix.hashUUIDBytes(&u))
		}
		for key := range s.str {
			f.addUnpublished(ix.hashJTI(key))
		}
	case Sub:
		for key := range s.sub {
			f.addUnpublished(ix.hashString(Sub, key))
		}
	case Kid:
		for key := range s.kid {
			f.addUnpublished(ix.hashString(Kid, key))
		}
	}
	s.bloom[k-1].Store(f)
	s.bloomKeys[k-1] = n
	ix.rebuilds.Add(1)
}

// Sweep removes every entry whose expiry is at or before now, drops the
// issued-at floors the clock has reached (subcutoff.go) and rebuilds
// the Bloom filter of each shard where stale keys warrant it (see above).
// It returns the number of entries removed. Each shard is locked in turn,
// so Checks of not-revoked tokens never wait for it. Safe for concurrent use.
func (ix *Index) Sweep() int {
	nowMs := ix.nowMs()
	total := 0
	for i := range ix.shards {
		s := &ix.shards[i]
		s.mu.Lock()
		var removed [numKinds]int
		for u, exp := range s.uuid {
			if !live(exp, nowMs) {
				delete(s.uuid, u)
				removed[JTI]++
			}
		}
		for k, exp := range s.str {
			if !live(exp, nowMs) {
				delete(s.str, k)
				removed[JTI]++
			}
		}
		for k, e := range s.sub {
			if !live(e.exp, nowMs) {
				delete(s.sub, k)
				removed[Sub]++
			}
		}
		for k, exp := range s.kid {
			if !live(exp, nowMs) {
				delete(s.kid, k)
				removed[Kid]++
			}
		}
		for k, r := range removed {
			if r != 0 {
				ix.counts[k].Add(int64(-r))
				total += r
			}
		}
		pruneFloorsLocked(s, nowMs/1000)
		s.floorPruneAt = max(minFloorPrune, 2*len(s.floors))
		for k := JTI; k <= Kid; k++ {
			liveN := s.lenLocked(k)
			stale := s.bloomKeys[k-1] - liveN
			if stale > 0 && stale >= liveN && 4*stale >= s.filter(k).capacity {
				ix.rebuildLocked(s, k)
			}
		}
		s.mu.Unlock()
	}
	return total
}
