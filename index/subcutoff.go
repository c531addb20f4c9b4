package index

import (
	"math"
	"strings"
	"time"
)

// Subject cutoffs and issued-at floors: linearizing "log out everywhere"
// with issuance on one node.
//
// A subject revocation revokes the subject's tokens whose integer "iat" is
// at or before its cutoff (Unix seconds). With second precision, two
// revocations and an issuance inside one second cannot be told apart by the
// clock alone: the first revocation gets cutoff T, the token issued after
// it must carry iat T+1 to live, and a second revocation in that second must
// then get a cutoff of at least T+1 to kill that token. So the index keeps,
// beside each subject's committed cutoff, a per-subject floor: the smallest
// iat a token issued from now on may carry. ReserveSubCutoff and IssueIat
// read the clock and the floor under the subject's shard lock, which orders
// every reservation and every issuance of a subject:
//
//   - a token whose IssueIat ran before a reservation has iat <= its cutoff;
//   - a token whose IssueIat ran after it has iat > its cutoff.
//
// Cutoffs may therefore lie a few seconds ahead of the clock (one second per
// revocation of the same subject within the same second, at worst). A
// floor at or before the current second is implied by the clock and is
// dropped (by Sweep, and by reservations once a shard holds many), so the
// floors use memory only for subjects revoked in the last few seconds.
//
// Floors are local to this node: across nodes, cutoffs are ordered by
// their (clock-derived) value only. A node whose clock runs ahead of the
// revoking node's stamps its tokens with later iats; ReserveSubCutoffAhead
// places the cutoff that far ahead (MAX_CLOCK_SKEW_SECONDS) so that a
// revocation still covers every token issued anywhere before it.

// minFloorPrune is the number of floors a shard holds before a reservation
// prunes the stale ones.
const minFloorPrune = 32

// ReserveSubCutoff reserves the cutoff (Unix seconds) of a new revocation of
// sub's tokens and returns it: every token whose IssueIat for sub returned
// before this call has iat <= cutoff, and every token whose IssueIat starts
// after it gets iat > cutoff. The cutoff is the current second of the
// index's clock, raised above the subject's committed cutoff and to its
// floor. It is not applied to the index: the caller commits the revocation
// with this cutoff and applies it with RevokeSub. Safe for concurrent use.
func (ix *Index) ReserveSubCutoff(sub string) int64 { return ix.ReserveSubCutoffAhead(sub, 0) }

// ReserveSubCutoffAhead is ReserveSubCutoff with the cutoff at least the
// second of now + ahead (ahead >= 0; negative counts as 0): the bound on how
// far another node's clock may run ahead of this one's, so that the tokens
// it issued before this revocation (their iat read from its clock) are
// covered too. Tokens this node issues afterwards get iat > cutoff, so up to
// ahead (plus a second) later than its clock.
func (ix *Index) ReserveSubCutoffAhead(sub string, ahead time.Duration) int64 {
	s := ix.shardOf(ix.hashString(Sub, sub))
	s.mu.Lock()
	defer s.mu.Unlock()
	nowMs := ix.nowMs()
	cutoff := max(ix.issueFloorLocked(s, sub, nowMs), (nowMs+max(ahead.Milliseconds(), 0))/1000)
	if s.floors == nil {
		s.floors = make(map[string]int64)
	}
	if _, ok := s.floors[sub]; !ok {
		if len(s.floors) >= s.floorPruneAt {
			pruneFloorsLocked(s, nowMs/1000)
			s.floorPruneAt = max(minFloorPrune, 2*len(s.floors))
		}
		sub = strings.Clone(sub) // never retain the caller's backing array
	}
	s.floors[sub] = cutoff + 1
	return cutoff
}

// IssueIat returns the "iat" (Unix seconds) for a token of sub issued now:
// the current second of the index's clock, raised to the subject's floor
// and above its committed cutoff, so that a token issued after a subject
// revocation is not born revoked. A subject revoked for all its tokens
// (cutoff math.MaxInt64, the seed's "1") stays revoked: its tokens get the
// current second. Safe for concurrent use.
func (ix *Index) IssueIat(sub string) int64 {
	s := ix.shardOf(ix.hashString(Sub, sub))
	s.mu.RLock()
	defer s.mu.RUnlock()
	return ix.issueFloorLocked(s, sub, ix.nowMs())
}

// issueFloorLocked returns the smallest iat a token of sub issued at nowMs
// may carry. The caller holds s.mu (read or write).
func (ix *Index) issueFloorLocked(s *shard, sub string, nowMs int64) int64 {
	iat := nowMs / 1000
	if f, ok := s.floors[sub]; ok {
		iat = max(iat, f)
	}
	if e, ok := s.sub[sub]; ok && live(e.exp, nowMs) && e.cutoff < math.MaxInt64 {
		iat = max(iat, e.cutoff+1)
	}
	return iat
}

// pruneFloorsLocked deletes the floors at or before nowSec: the clock alone
// already gives them. The caller holds s.mu for writing.
func pruneFloorsLocked(s *shard, nowSec int64) {
	for k, f := range s.floors {
		if f <= nowSec {
			delete(s.floors, k)
		}
	}
}
