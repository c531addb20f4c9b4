package index

import "hash/maphash"

// Hashing: every key is hashed exactly once per operation with hash/maphash
// (AES-based runtime hash on amd64/arm64, randomly seeded per Index, so
// neither shard nor Bloom placement can be predicted from outside). Each kind
// has its own seed, so equal strings of different kinds are unrelated keys.
// From the one 64-bit hash the index derives the shard (top bits), the Bloom
// block (low 32 bits) and the eight Bloom bit positions (a remix of all
// bits, see bloomFilter.probe). A UUID jti is hashed in its 16-byte form, so
// upper- and lower-case spellings meet. When the Bloom filter answers
// "maybe", the Go map lookup that follows hashes the key again with the
// map's own hash; that happens only for revoked tokens and false positives.

// hashUUID hashes a parsed UUID jti.
func (ix *Index) hashUUID(u *[16]byte) uint64 {
	return maphash.Bytes(ix.seeds[JTI], u[:])
}

// hashString hashes a string key of the given kind.
func (ix *Index) hashString(k Kind, s string) uint64 {
	return maphash.String(ix.seeds[k], s)
}

// shardOf returns the shard that owns a key with hash h.
func (ix *Index) shardOf(h uint64) *shard {
	return &ix.shards[h>>ix.shardShift&ix.shardMask]
}
