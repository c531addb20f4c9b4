// Package index is revocd's in-memory revocation index: the set of revoked
// token ids (jti), subjects (sub, with an issued-at cutoff) and key ids
// (kid) that token validation consults on every request.
//
// The index is a pure data structure: no I/O, no goroutines, no timers. The
// owner calls Sweep periodically to drop expired entries.
//
// Layout: the keys of all kinds are spread over a power-of-two number of
// shards by a per-Index randomly seeded 64-bit hash (hash.go). Each shard
// holds four Go maps (UUID jtis as [16]byte keys, other jtis, subs, kids)
// behind a sync.RWMutex, and one cache-line-blocked Bloom filter per kind,
// read without any lock (bloom.go, sweep.go). A Check of a token that is
// not revoked, the common case, hashes each present claim once and touches
// one cache line of Bloom bits per claim: it takes no lock, reads no clock
// and writes no shared memory, so it scales with cores. Expiries are kept
// as uint32 seconds (expiry.go). Subject revocation cutoffs are reserved,
// and token iats drawn, under the subject's shard lock so that a subject
// revocation covers exactly the tokens issued before it (subcutoff.go).
//
// All methods of *Index are safe for concurrent use by any number of
// goroutines. The zero Index is not usable: create one with New.
package index

import (
	"math"
	"math/bits"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"
)

// Defaults for Options fields left zero.
const (
	// DefaultShards is the default shard count. With a lock-free miss path
	// the shard count only matters for writers and revoked-token lookups;
	// 64 keeps per-shard sweeps and Bloom rebuilds short (1/64 of the
	// entries each) while the padded shards stay small (16 KiB in all).
	// Parallel Revoke and hit benchmarks showed no difference between 1, 8,
	// 64 and 512 shards on the 2-core development machine.
	DefaultShards = 64
	// DefaultExpectedEntries sizes the Bloom filters when Options leaves it 0.
	DefaultExpectedEntries = 1 << 20
	// DefaultFalsePositiveRate is the Bloom filter target rate.
	DefaultFalsePositiveRate = 0.01
	// maxShards bounds Options.Shards.
	maxShards = 1 << 12
	// minShardCapacity is the smallest per-shard Bloom filter capacity.
	minShardCapacity = 16
)

// Options configures New. The zero Options selects every default.
type Options struct {
	// Shards is the number of lock shards, rounded up to a power of two
	// (at most 4096); 0 means DefaultShards.
	Shards int
	// ExpectedEntries sizes the jti Bloom filters; the sub and kid filters
	// start at 1/64 of it. 0 means DefaultExpectedEntries. Filters grow
	// automatically past their size, so this is a hint, not a limit.
	ExpectedEntries int
	// FalsePositiveRate is the Bloom filter target false-positive rate,
	// clamped to [1e-6, 0.5]; 0 means DefaultFalsePositiveRate.
	FalsePositiveRate float64
	// Now is the clock used for expiries; nil means time.Now.
	Now func() time.Time
	// ExpiryGrace keeps every entry in force this long past the expiry it
	// was given. Set it to the verifier's exp leeway: a revocation that
	// lives "until the token expires" must outlive the leeway during which
	// the verifier still accepts the expired token. 0: no grace.
	ExpiryGrace time.Duration
}

// Index is the revocation index. All methods are safe for concurrent use.
// The zero value is not usable; create an Index with New.
type Index struct {
	shards     []shard
	shardShift uint   // 64 - log2(len(shards)): shard = hash >> shardShift
	shardMask  uint64 // len(shards)-1 (keeps shardShift=64 correct for 1 shard)
	seeds      hashSeeds
	now        func() time.Time
	graceMs    int64             // Options.ExpiryGrace in milliseconds
	baseCap    [numKinds - 1]int // Bloom capacity per shard, by Kind-1
	bitsPerKey float64           // Bloom bits per key for the target rate

	_        [cacheLine]byte
	counts   [numKinds]atomic.Int64 // entries per kind, incl. expired not yet swept
	rebuilds atomic.Uint64          // Bloom filter rebuilds so far
	ready    atomic.Bool
	_        [cacheLine]byte
}

// New returns an empty index configured by opts.
func New(opts Options) *Index {
	n := opts.Shards
	if n <= 0 {
		n = DefaultShards
	}
	n = min(n, maxShards)
	logN := bits.Len(uint(n - 1)) // round up to a power of two
	n = 1 << logN
	expected := opts.ExpectedEntries
	if expected <= 0 {
		expected = DefaultExpectedEntries
	}
	fpr := opts.FalsePositiveRate
	if fpr <= 0 {
		fpr = DefaultFalsePositiveRate
	}
	ix := &Index{
		shards:     make([]shard, n),
		shardShift: uint(64 - logN),
		shardMask:  uint64(n - 1),
		now:        opts.Now,
		graceMs:    max(opts.ExpiryGrace.Milliseconds(), 0),
		bitsPerKey: bitsPerKeyFor(fpr),
	}
	jtiCap := max((expected+n-1)/n, minShardCapacity)
	ix.baseCap = [numKinds - 1]int{jtiCap, max(jtiCap/64, minShardCapacity), max(jtiCap/64, minShardCapacity)}
	if ix.now == nil {
		ix.now = time.Now
	}
	ix.seeds = newHashSeeds()
	for i := range ix.shards {
		ix.shards[i].init(&ix.baseCap, ix.bitsPerKey)
	}
	return ix
}

// nowMs reads the injected clock in Unix milliseconds.
func (ix *Index) nowMs() int64 { return ix.now().UnixMilli() }

// withGrace extends an expiry by Options.ExpiryGrace, saturating.
func (ix *Index) withGrace(expiresAtMs int64) int64 {
	if expiresAtMs > math.MaxInt64-ix.graceMs {
		return math.MaxInt64
	}
	return expiresAtMs + ix.graceMs
}

// SetReady marks the index as loaded (the server fails closed until then).
// Safe for concurrent use.
func (ix *Index) SetReady() { ix.ready.Store(true) }

// Ready reports whether SetReady has been called. Safe for concurrent use.
func (ix *Index) Ready() bool { return ix.ready.Load() }

// RevokeJTI revokes the token with id jti until expiresAtMs (Unix ms).
// Re-revoking keeps the later expiry. A canonical UUID jti (either case) is
// stored as 16 bytes and matches both spellings; any other jti is matched
// exactly. An empty jti or an expiry not after now is ignored. Safe for
// concurrent use.
func (ix *Index) RevokeJTI(jti string, expiresAtMs int64) {
	if jti == "" {
		return
	}
	exp, ok := expirySec(ix.withGrace(expiresAtMs), ix.nowMs())
	if !ok {
		return
	}
	h := ix.hashJTI(jti)
	if u, isUUID := parseUUID(jti); isUUID {
		s := ix.shardOf(h)
		s.mu.Lock()
		if old, found := s.uuid[u]; found {
			s.uuid[u] = max(old, exp)
		} else {
			s.uuid[u] = exp
			ix.addedLocked(s, h, JTI)
		}
		s.mu.Unlock()
		return
	}
	ix.revokeString(JTI, jti, h, exp)
}

// RevokeSub revokes the subject's tokens issued at or before cutoffUnixSec
// (math.MaxInt64: all its tokens) until expiresAtMs (Unix ms). Re-revoking
// keeps the larger cutoff and the later expiry. An empty sub or an expiry
// not after now is ignored. Safe for concurrent use.
func (ix *Index) RevokeSub(sub string, cutoffUnixSec int64, expiresAtMs int64) {
	if sub == "" {
		return
	}
	exp, ok := expirySec(ix.withGrace(expiresAtMs), ix.nowMs())
	if !ok {
		return
	}
	h := ix.hashString(Sub, sub)
	s := ix.shardOf(h)
	s.mu.Lock()
	if old, found := s.sub[sub]; found {
		s.sub[sub] = subEntry{cutoff: max(old.cutoff, cutoffUnixSec), exp: max(old.exp, exp)}
	} else {
		s.sub[strings.Clone(sub)] = subEntry{cutoff: cutoffUnixSec, exp: exp}
		ix.addedLocked(s, h, Sub)
	}
	s.mu.Unlock()
}

// RevokeKid revokes every token signed with key id kid until expiresAtMs
// (Unix ms). Re-revoking keeps the later expiry. An empty kid or an expiry
// not after now is ignored. Safe for concurrent use.
func (ix *Index) RevokeKid(kid string, expiresAtMs int64) {
	if kid == "" {
		return
	}
	exp, ok := expirySec(ix.withGrace(expiresAtMs), ix.nowMs())
	if !ok {
		return
	}
	ix.revokeString(Kid, kid, ix.hashString(Kid, kid), exp)
}

// revokeString adds or extends a string-keyed jti or kid entry whose hash
// is h.
func (ix *Index) revokeString(k Kind, key string, h uint64, exp uint32) {
	s := ix.shardOf(h)
	m := s.str
	if k == Kid {
		m = s.kid
	}
	s.mu.Lock()
	if old, found := m[key]; found {
		m[key] = max(old, exp)
	} else {
		m[strings.Clone(key)] = exp // never retain the caller's backing array
		ix.addedLocked(s, h, k)
	}
	s.mu.Unlock()
}

// Remove deletes the entry of the given kind and value, if any (for a UUID
// jti, whichever spelling). Its Bloom bits stay until the next rebuild.
// Safe for concurrent use.
func (ix *Index) Remove(kind Kind, value string) {
	var removed bool
	switch kind {
	case JTI:
		s := ix.shardOf(ix.hashJTI(value))
		if u, isUUID := parseUUID(value); isUUID {
			s.mu.Lock()
			_, removed = s.uuid[u]
			delete(s.uuid, u)
			s.mu.Unlock()
			break
		}
		s.mu.Lock()
		_, removed = s.str[value]
		delete(s.str, value)
		s.mu.Unlock()
	case Sub:
		s := ix.shardOf(ix.hashString(Sub, value))
		s.mu.Lock()
		_, removed = s.sub[value]
		delete(s.sub, value)
		s.mu.Unlock()
	case Kid:
		s := ix.shardOf(ix.hashString(Kid, value))
		s.mu.Lock()
		_, removed = s.kid[value]
		delete(s.kid, value)
		s.mu.Unlock()
	}
	if removed {
		ix.counts[kind].Add(-1)
	}
}

// Check reports the first revocation that matches a token, trying its jti,
// then its sub (matching when iatUnixSec <= the subject's cutoff), then its
// kid; None when nothing matches. Empty claims are skipped. Expired entries
// never match, swept or not. Safe for concurrent use; the not-revoked path
// takes no lock and allocates nothing.
func (ix *Index) Check(jti, sub, kid string, iatUnixSec int64) Kind {
	now := lazyNow{ix: ix}
	if jti != "" && ix.counts[JTI].Load() != 0 && ix.checkJTI(jti, &now) {
		return JTI
	}
	if sub != "" && ix.counts[Sub].Load() != 0 && ix.checkSub(sub, iatUnixSec, &now) {
		return Sub
	}
	if kid != "" && ix.counts[Kid].Load() != 0 && ix.checkKid(kid, &now) {
		return Kid
	}
	return None
}

// CheckBytes is Check for claims held in byte slices (the validator parses
// tokens into reused buffers). It allocates nothing and does not retain the
// slices. Safe for concurrent use.
func (ix *Index) CheckBytes(jti, sub, kid []byte, iatUnixSec int64) Kind {
	// Zero-copy views: Check only hashes and looks up keys, it never stores
	// them, so the strings do not outlive the call.
	return ix.Check(bytesView(jti), bytesView(sub), bytesView(kid), iatUnixSec)
}

// bytesView returns a string sharing b's memory. The result must not be
// retained beyond the caller's use of b.
func bytesView(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// checkJTI reports whether jti has a live entry. The UUID digits are only
// validated and decoded when the Bloom filter passes.
func (ix *Index) checkJTI(jti string, now *lazyNow) bool {
	h := ix.hashJTI(jti)
	s := ix.shardOf(h)
	if !s.filter(JTI).mayContain(h) {
		return false
	}
	var exp uint32
	var found bool
	u, isUUID := parseUUID(jti)
	s.mu.RLock()
	if isUUID {
		exp, found = s.uuid[u]
	} else {
		exp, found = s.str[jti]
	}
	s.mu.RUnlock()
	if !found {
		s.falsePos.Add(1)
		return false
	}
	return live(exp, now.get())
}

// checkKid reports whether kid has a live entry.
func (ix *Index) checkKid(kid string, now *lazyNow) bool {
	h := ix.hashString(Kid, kid)
	s := ix.shardOf(h)
	if !s.filter(Kid).mayContain(h) {
		return false
	}
	s.mu.RLock()
	exp, found := s.kid[kid]
	s.mu.RUnlock()
	if !found {
		s.falsePos.Add(1)
		return false
	}
	return live(exp, now.get())
}

// checkSub reports whether sub has a live entry whose cutoff covers iat.
func (ix *Index) checkSub(sub string, iat int64, now *lazyNow) bool {
	h := ix.hashString(Sub, sub)
	s := ix.shardOf(h)
	if !s.filter(Sub).mayContain(h) {
		return false
	}
	s.mu.RLock()
	e, found := s.sub[sub]
	s.mu.RUnlock()
	if !found {
		s.falsePos.Add(1)
		return false
	}
	return iat <= e.cutoff && live(e.exp, now.get())
}
