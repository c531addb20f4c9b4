package index

// Stats is a snapshot of an Index's size and Bloom filter state.
type Stats struct {
	// JTI, Sub and Kid count entries per kind, including expired entries
	// that Sweep has not removed yet. JTI = JTIUUID + JTIString.
	JTI, JTIUUID, JTIString, Sub, Kid int
	// Entries is JTI + Sub + Kid.
	Entries int
	// Shards is the number of shards.
	Shards int
	// BloomBits is the total size of the Bloom filters (all kinds) in bits.
	BloomBits uint64
	// BloomKeys counts keys set in the current filters: live entries plus
	// stale ones (swept or removed since the filter was built).
	BloomKeys uint64
	// BloomCapacity is the total number of keys the current filters are
	// sized for at the target false-positive rate.
	BloomCapacity uint64
	// BloomRebuilds counts filter rebuilds (growth and stale-bit cleanup).
	BloomRebuilds uint64
	// BloomFalsePositives counts Bloom positives that found no entry.
	BloomFalsePositives uint64
}

// Stats returns a snapshot of the index. It locks each shard for reading
// in turn, so the totals are not one atomic cut. Safe for concurrent use.
func (ix *Index) Stats() Stats {
	st := Stats{Shards: len(ix.shards), BloomRebuilds: ix.rebuilds.Load()}
	for i := range ix.shards {
		s := &ix.shards[i]
		s.mu.RLock()
		st.JTIUUID += len(s.uuid)
		st.JTIString += len(s.str)
		st.Sub += len(s.sub)
		st.Kid += len(s.kid)
		for k := JTI; k <= Kid; k++ {
			f := s.filter(k)
			st.BloomKeys += uint64(s.bloomKeys[k-1])
			st.BloomBits += f.bits()
			st.BloomCapacity += uint64(f.capacity)
		}
		s.mu.RUnlock()
		st.BloomFalsePositives += s.falsePos.Load()
	}
	st.JTI = st.JTIUUID + st.JTIString
	st.Entries = st.JTI + st.Sub + st.Kid
	return st
}
