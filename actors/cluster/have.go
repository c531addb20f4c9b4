package cluster

import (
	"context"
	"fmt"

	"github.com/revocd/revocd/revocation"
)

// maxAbove bounds the out-of-order seqs remembered per origin; beyond it
// duplicates are simply passed on to Ingest, which tolerates them.
const maxAbove = 1 << 14

// advancePages bounds the store pages one refresh reads per origin.
const advancePages = 16

// haveState is what this node holds of each origin's log: contig[o] is
// the highest seq s with every event 1..s of o stored, above[o] the stored
// seqs beyond a gap and max[o] the highest stored seq. It is not safe for
// concurrent use: Start loads it, then only the replicator actor touches
// it. The actor never reads the store itself: scanStore runs on a
// goroutine against a copy of contig and the actor applies its result.
type haveState struct {
	self string

	contig map[string]uint64
	max    map[string]uint64
	above  map[string]map[uint64]struct{}
}

func newHaveState(self string) *haveState {
	return &haveState{self: self, contig: map[string]uint64{}, max: map[string]uint64{}, above: map[string]map[uint64]struct{}{}}
}

// load initialises the state from the store. When the number of stored
// events equals the sum of the per-origin maxima there is no gap anywhere
// (seqs are distinct and start at 1), so contig = max without a scan;
// otherwise refresh walks the logs from the start, a few pages at a time.
func (h *haveState) load(ctx context.Context, st Store) error {
	maxes, err := st.MaxSeqByOrigin(ctx)
	if err != nil {
		return fmt.Errorf("cluster: load digest: %w", err)
	}
	count, err := st.CountEvents(ctx)
	if err != nil {
		return fmt.Errorf("cluster: load digest: %w", err)
	}
	var sum uint64
	for _, m := range maxes {
		sum += m
	}
	for o, m := range maxes {
		h.max[o] = max(h.max[o], m)
		if sum == uint64(count) || o == h.self {
			h.contig[o] = max(h.contig[o], m)
		}
	}
	if sum != uint64(count) {
		return h.refresh(ctx, st)
	}
	return nil
}

// refresh reads the store (scanStore) and applies what it found.
func (h *haveState) refresh(ctx context.Context, st Store) error {
	res, err := scanStore(ctx, st, h.self, h.contigCopy())
	h.apply(res)
	return err
}

// haveScan is what scanStore read: the per-origin maxima and, per origin
// that had more than its contiguous prefix, the seqs stored after it.
type haveScan struct {
	maxes map[string]uint64
	seqs  map[string][]uint64
}

// scanStore re-reads the per-origin maxima and the stored events of every
// origin but self that has more than contig[o] (events that arrived by
// another path, such as Kafka, or behind a gap), at most advancePages
// pages per origin, stopping at a gap. It only reads the store, so it runs
// on a goroutine; the replicator applies its result (apply). A partial
// result comes with an error.
func scanStore(ctx context.Context, st Store, self string, contig map[string]uint64) (haveScan, error) {
	res := haveScan{seqs: map[string][]uint64{}}
	maxes, err := st.MaxSeqByOrigin(ctx)
	if err != nil {
		return res, fmt.Errorf("cluster: refresh digest: %w", err)
	}
	res.maxes = maxes
	for o, m := range maxes {
		if o == self || contig[o] >= m {
			continue
		}
		from := contig[o]
		for range advancePages {
			evs, err := st.EventsFromOrigin(ctx, o, from, PageSize)
			if err != nil {
				return res, fmt.Errorf("cluster: refresh digest of %s: %w", o, err)
			}
			next := from
			for _, e := range evs {
				res.seqs[o] = append(res.seqs[o], e.Seq)
				if e.Seq == next+1 {
					next++
				}
			}
			if len(evs) < PageSize || next == from || next != evs[len(evs)-1].Seq {
				break // the end, no progress, or a gap
			}
			from = next
		}
	}
	return res, nil
}

// apply merges a scanStore result.
func (h *haveState) apply(res haveScan) {
	for o, m := range res.maxes {
		h.max[o] = max(h.max[o], m)
		if o == h.self {
			// The local log has no gaps: the audit writer numbers it.
			h.contig[o] = max(h.contig[o], m)
		}
	}
	for o, seqs := range res.seqs {
		h.addSeqs(o, seqs)
	}
}

// contigCopy returns a copy of contig, for scanStore.
func (h *haveState) contigCopy() map[string]uint64 {
	out := make(map[string]uint64, len(h.contig))
	for o, s := range h.contig {
		out[o] = s
	}
	return out
}

// addCommitted records events known to be stored now.
func (h *haveState) addCommitted(events []revocation.Event) {
	byOrigin := map[string][]uint64{}
	for _, e := range events {
		byOrigin[e.Origin] = append(byOrigin[e.Origin], e.Seq)
	}
	for o, seqs := range byOrigin {
		h.addSeqs(o, seqs)
	}
}

// addSeqs records that the events origin/seqs are stored.
func (h *haveState) addSeqs(origin string, seqs []uint64) {
	if len(seqs) == 0 {
		return
	}
	ab := h.above[origin]
	for _, s := range seqs {
		h.max[origin] = max(h.max[origin], s)
		if s <= h.contig[origin] {
			continue
		}
		if ab == nil {
			ab = map[uint64]struct{}{}
			h.above[origin] = ab
		}
		if len(ab) < maxAbove {
			ab[s] = struct{}{}
		}
	}
	c := h.contig[origin]
	for {
		if _, ok := ab[c+1]; !ok {
			break
		}
		delete(ab, c+1)
		c++
	}
	h.contig[origin] = c
	if len(ab) == 0 {
		delete(h.above, origin)
	}
}

// noteLocal records that this node committed its own events up to seq.
func (h *haveState) noteLocal(seq uint64) {
	h.max[h.self] = max(h.max[h.self], seq)
	h.contig[h.self] = max(h.contig[h.self], seq)
}

// has reports whether the event origin/seq is stored here.
func (h *haveState) has(origin string, seq uint64) bool {
	if seq <= h.contig[origin] {
		return true
	}
	_, ok := h.above[origin][seq]
	return ok
}

// digest returns a copy of the contiguous prefixes (the Hello payload).
func (h *haveState) digest() map[string]uint64 {
	out := make(map[string]uint64, len(h.contig))
	for o, s := range h.contig {
		if s > 0 {
			out[o] = s
		}
	}
	return out
}

// maxes returns a copy of the highest stored seq per origin.
func (h *haveState) maxes() map[string]uint64 {
	out := make(map[string]uint64, len(h.max))
	for o, s := range h.max {
		out[o] = s
	}
	return out
}

// lag returns how many events of origins other than peer this node holds
// beyond the peer's digest theirs: what the peer still misses from us.
func (h *haveState) lag(peer string, theirs map[string]uint64) uint64 {
	var n uint64
	for o, m := range h.max {
		if o != peer && m > theirs[o] {
			n += m - theirs[o]
		}
	}
	return n
}

// behind returns how many events the peer's digest theirs says the peer
// holds (origins other than this node) that this node has not applied:
// what this node still misses from the peer.
func (h *haveState) behind(theirs map[string]uint64) uint64 {
	var n uint64
	for o, s := range theirs {
		if o != h.self && h.contig[o] < s {
			n += s - h.contig[o]
		}
	}
	return n
}

// ownAhead returns how many events of this node's own origin the peer's
// digest theirs says the peer holds beyond this node's log: none, unless
// this node's database lost events it had published (a restore from a
// backup under the same NODE_ID), after which its new events would reuse
// sequence numbers the peers already hold.
func (h *haveState) ownAhead(theirs map[string]uint64) uint64 {
	if s := theirs[h.self]; s > h.max[h.self] {
		return s - h.max[h.self]
	}
	return 0
}

// covers reports whether this node holds every event the peer's digest
// theirs says the peer holds contiguously (origins other than this node).
func (h *haveState) covers(theirs map[string]uint64) bool {
	for o, s := range theirs {
		if o != h.self && h.contig[o] < s {
			return false
		}
	}
	return true
}
