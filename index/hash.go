package index

import (
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
)

// Hashing: every key is hashed exactly once per operation, with per-Index
// random seeds (neither shard nor Bloom placement can be predicted from
// outside). From the one 64-bit hash the index derives the shard (top bits),
// the Bloom block (low 32 bits) and the eight Bloom bit positions (a remix of
// all bits, see bloomFilter.probe). Each kind has its own seed, so equal
// strings of different kinds are unrelated keys.
//
// Sub, kid and non-UUID-shaped jti strings use hash/maphash (AES-based
// runtime hash on amd64/arm64). A jti shaped like a canonical UUID (36
// bytes, dashes at 8, 13, 18, 23) is hashed from its 32 digit characters,
// loaded as four 64-bit words and ASCII-case-folded (OR 0x20 per byte), with
// a wyhash-style 128-bit multiply mix. That needs no hex decoding and no
// validation, which keeps the common not-revoked check cheap: the digits
// are only validated and decoded to the 16-byte map key when the Bloom
// filter answers "maybe". Upper- and lower-case spellings of a UUID hash
// alike, and a stored [16]byte key re-hashes to the same value (by
// hex-encoding it, see hashUUIDBytes) when a filter is rebuilt. A
// UUID-shaped jti with non-hex characters is stored as a string key but
// hashed the same way; its case variants only share Bloom bits.
//
// When the filter answers "maybe", the Go map lookup that follows hashes the
// key again with the map's own hash; that happens only for revoked tokens
// and false positives.

// hashSeeds holds the per-Index hash seeds.
type hashSeeds struct {
	str  [numKinds]maphash.Seed // maphash seeds by Kind
	uuid [6]uint64              // keys of the UUID word mix
}

// newHashSeeds draws fresh random seeds.
func newHashSeeds() hashSeeds {
	var s hashSeeds
	for k := range s.str {
		s.str[k] = maphash.MakeSeed()
	}
	for i := range s.uuid {
		s.uuid[i] = rand.Uint64() // math/rand/v2: ChaCha8, randomly seeded
	}
	return s
}

// hashJTI hashes a jti string (any spelling, UUID or not).
func (ix *Index) hashJTI(jti string) uint64 {
	if uuidShaped(jti) {
		w0, w1, w2, w3 := uuidRawWords(jti)
		return ix.mixUUID(w0|fold, w1|fold, w2|fold, w3|fold)
	}
	return maphash.String(ix.seeds.str[JTI], jti)
}

// hashUUIDBytes hashes a parsed UUID jti; it equals hashJTI of every
// spelling of the UUID.
func (ix *Index) hashUUIDBytes(u *[16]byte) uint64 {
	return ix.mixUUID(uuidWordsFromBytes(u))
}

// hashString hashes a sub or kid.
func (ix *Index) hashString(k Kind, s string) uint64 {
	return maphash.String(ix.seeds.str[k], s)
}

// mixUUID hashes four case-folded digit words.
func (ix *Index) mixUUID(w0, w1, w2, w3 uint64) uint64 {
	k := &ix.seeds.uuid
	a := mum(w0^k[0], w1^k[1])
	b := mum(w2^k[2], w3^k[3])
	return mum(a^k[4], b^k[5])
}

// mum is wyhash's mixing step: the 128-bit product folded to 64 bits.
func mum(x, y uint64) uint64 {
	hi, lo := bits.Mul64(x, y)
	return hi ^ lo
}

// shardOf returns the shard that owns a key with hash h.
func (ix *Index) shardOf(h uint64) *shard {
	return &ix.shards[h>>ix.shardShift&ix.shardMask]
}
