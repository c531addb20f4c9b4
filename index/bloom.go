package index

import (
	"math"
	"sync/atomic"
	"unsafe"
)

// This file holds the Bloom prefilter: a cache-line-blocked ("split block")
// Bloom filter over an atomic bitset owned by this package.
//
// Why not github.com/bits-and-blooms/bloom/v3: it rehashes every key with
// murmur3 and probes k bits spread over the whole bitset (k cache misses at
// 1M entries), and it is not safe for concurrent reads and writes, so every
// probe would need a lock. This filter instead
//   - reuses the one 64-bit hash the index computes per key (the same hash
//     also picks the shard; see hash.go),
//   - puts all k=8 probe bits of a key in one 64-byte block (one bit in each
//     of the block's eight uint64 words), so a probe costs one cache line,
//   - reads with atomic loads and sets bits with atomic OR, so readers take no
//     lock and never contend with each other.
// BenchmarkBloomCompare measures both (see bloom_compare_test.go).
//
// Blocking costs a little accuracy at a given size; bitsPerKeyFor computes
// the bits per key that meet the requested false-positive rate for this
// layout exactly (Poisson load per block), instead of the textbook formula:
// 10.1 bits per key for 1% (textbook unblocked: 9.6).

const (
	blockWords = 8               // uint64 words per block: one 64-byte cache line
	blockBits  = blockWords * 64 // bits per block
)

// bloomFilter is an immutable-size Bloom filter. Bits are only ever set
// (atomic OR) while the owning shard's write lock is held and read with
// atomic loads without any lock; a filter is never cleared in place: the
// shard builds a fresh one and publishes it with an atomic pointer store.
type bloomFilter struct {
	words    []uint64 // 8*nBlocks words, first word 64-byte aligned
	nBlocks  uint64   // number of blocks, >= 1 and < 1<<32
	capacity int      // keys the filter is sized for at the target rate
}

// newBloomFilter returns an empty filter for capacity keys at bitsPerKey.
func newBloomFilter(capacity int, bitsPerKey float64) *bloomFilter {
	if capacity < 1 {
		capacity = 1
	}
	nb := uint64(math.Ceil(float64(capacity) * bitsPerKey / blockBits))
	if nb < 1 {
		nb = 1
	}
	if nb >= 1<<32 {
		nb = 1<<32 - 1
	}
	n := int(nb) * blockWords
	raw := make([]uint64, n+blockWords-1)
	off := 0
	for uintptr(unsafe.Pointer(&raw[off]))%64 != 0 {
		off++
	}
	return &bloomFilter{words: raw[off : off+n : off+n], nBlocks: nb, capacity: capacity}
}

// probe derives a key's block and its eight in-word bit positions from its
// 64-bit hash. The block comes from the low 32 bits (multiply-shift range
// reduction, no modulo); the shard uses the top bits; the bit positions come
// from a bijective remix (murmur3 fmix64) of the whole hash, 6 bits each.
func (f *bloomFilter) probe(h uint64) (blk *[blockWords]uint64, bits uint64) {
	b := (h & 0xffffffff) * f.nBlocks >> 32
	blk = (*[blockWords]uint64)(f.words[b*blockWords : b*blockWords+blockWords])
	x := h
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return blk, x
}

// add sets the key's bits. Callers hold the owning shard's write lock
// (concurrent readers are fine: the OR is atomic).
func (f *bloomFilter) add(h uint64) {
	blk, x := f.probe(h)
	for i := range blockWords {
		atomic.OrUint64(&blk[i], 1<<(x>>(6*i)&63))
	}
}

// addUnpublished sets the key's bits in a filter no other goroutine can see
// yet (during a rebuild), without atomic operations.
func (f *bloomFilter) addUnpublished(h uint64) {
	blk, x := f.probe(h)
	for i := range blockWords {
		blk[i] |= 1 << (x >> (6 * i) & 63)
	}
}

// mayContain reports whether the key may be in the set; false is certain.
// It takes no lock and is safe concurrently with add. (The early exit per
// word measured faster than a branch-free AND of all eight words.)
func (f *bloomFilter) mayContain(h uint64) bool {
	blk, x := f.probe(h)
	for i := range blockWords {
		if atomic.LoadUint64(&blk[i])&(1<<(x>>(6*i)&63)) == 0 {
			return false
		}
	}
	return true
}

// bits returns the filter's size in bits.
func (f *bloomFilter) bits() uint64 { return f.nBlocks * blockBits }

// blockedFPR is the expected false-positive rate of this filter layout at
// bitsPerKey: the load of a block is Poisson with mean blockBits/bitsPerKey
// keys, and a probe is positive when all 8 probed bits (one per 64-bit word)
// are set.
func blockedFPR(bitsPerKey float64) float64 {
	lambda := blockBits / bitsPerKey
	p := math.Exp(-lambda) // Poisson P(L=0)
	var sum, cdf float64
	for l := 0; l < 4096; l++ {
		if l > 0 {
			p *= lambda / float64(l)
		}
		set := 1 - math.Pow(1-1.0/64, float64(l)) // P(a given word bit is set)
		sum += p * math.Pow(set, blockWords)
		cdf += p
		if float64(l) > lambda && 1-cdf < 1e-12 {
			break
		}
	}
	return sum
}

// bitsPerKeyFor returns the smallest bits per key (in steps of 1/8) for which
// blockedFPR is at most fpr. fpr is clamped to [1e-6, 0.5].
func bitsPerKeyFor(fpr float64) float64 {
	fpr = min(max(fpr, 1e-6), 0.5)
	for b := 1.0; b < 64; b += 0.125 {
		if blockedFPR(b) <= fpr {
			return b
		}
	}
	return 64
}
