package cluster

import (
	"context"
	"fmt"
	"sync"

	"github.com/revocd/revocd/revocation"
)

// maxAbove bounds the out-of-order seqs remembered per origin; beyond it
// duplicates are simply passed on to Ingest, which tolerates them.
const maxAbove = 1 << 14

// advancePages bounds the store pages one refresh reads per origin.
const advancePages = 16

// haveState is what this node holds of each origin's log: contig[o] is
// the highest seq s with every event 1..s of o stored, above[o] the stored
// seqs beyond a gap and max[o] the highest stored seq. It is written by the
// ingest worker (and noteLocal) and read by the actor and Status; all
// methods are safe for concurrent use. Reads of the store happen without
// the lock; only the ingest worker calls load, refresh and addCommitted, so
// their read-then-update sequences do not interleave.
type haveState struct {
	self string

	mu     sync.RWMutex
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
	h.mu.Lock()
	for o, m := range maxes {
		h.max[o] = max(h.max[o], m)
		if sum == uint64(count) || o == h.self {
			h.contig[o] = max(h.contig[o], m)
		}
	}
	h.mu.Unlock()
	if sum != uint64(count) {
		return h.refresh(ctx, st)
	}
	return nil
}

// refresh re-reads the per-origin maxima and advances contig over stored
// events of every origin that has more than its contiguous prefix (events
// that arrived by another path, such as Kafka, or behind a gap).
func (h *haveState) refresh(ctx context.Context, st Store) error {
	maxes, err := st.MaxSeqByOrigin(ctx)
	if err != nil {
		return fmt.Errorf("cluster: refresh digest: %w", err)
	}
	var behind []string
	h.mu.Lock()
	for o, m := range maxes {
		h.max[o] = max(h.max[o], m)
		if o == h.self {
			// The local log has no gaps: the audit writer numbers it.
			h.contig[o] = max(h.contig[o], m)
		} else if h.contig[o] < m {
			behind = append(behind, o)
		}
	}
	h.mu.Unlock()
	for _, o := range behind {
		if err := h.advance(ctx, st, o); err != nil {
			return err
		}
	}
	return nil
}

// advance reads origin's stored events after contig and moves contig over
// the contiguous ones, remembering those beyond a gap.
func (h *haveState) advance(ctx context.Context, st Store, origin string) error {
	h.mu.RLock()
	from := h.contig[origin]
	h.mu.RUnlock()
	for range advancePages {
		evs, err := st.EventsFromOrigin(ctx, origin, from, PageSize)
		if err != nil {
			return fmt.Errorf("cluster: refresh digest of %s: %w", origin, err)
		}
		h.addSeqs(origin, evs)
		h.mu.RLock()
		next, gap := h.contig[origin], len(h.above[origin]) > 0
		h.mu.RUnlock()
		if len(evs) < PageSize || gap || next == from {
			return nil
		}
		from = next
	}
	return nil
}

// addCommitted records events known to be stored now.
func (h *haveState) addCommitted(events []revocation.Event) {
	byOrigin := map[string][]revocation.Event{}
	for _, e := range events {
		byOrigin[e.Origin] = append(byOrigin[e.Origin], e)
	}
	for o, evs := range byOrigin {
		h.addSeqs(o, evs)
	}
}

func (h *haveState) addSeqs(origin string, evs []revocation.Event) {
	if len(evs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ab := h.above[origin]
	for i := range evs {
		s := evs[i].Seq
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
	h.mu.Lock()
	h.max[h.self] = max(h.max[h.self], seq)
	h.contig[h.self] = max(h.contig[h.self], seq)
	h.mu.Unlock()
}

// has reports whether the event origin/seq is stored here.
func (h *haveState) has(origin string, seq uint64) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if seq <= h.contig[origin] {
		return true
	}
	_, ok := h.above[origin][seq]
	return ok
}

// digest returns a copy of the contiguous prefixes (the Hello payload).
func (h *haveState) digest() map[string]uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
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
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make(map[string]uint64, len(h.max))
	for o, s := range h.max {
		out[o] = s
	}
	return out
}

// lag returns how many events of origins other than peer this node holds
// beyond the peer's digest theirs: what the peer still misses from us.
func (h *haveState) lag(peer string, theirs map[string]uint64) uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var n uint64
	for o, m := range h.max {
		if o != peer && m > theirs[o] {
			n += m - theirs[o]
		}
	}
	return n
}

// covers reports whether this node holds every event the peer's digest
// theirs says the peer holds contiguously (origins other than this node).
func (h *haveState) covers(theirs map[string]uint64) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for o, s := range theirs {
		if o != h.self && h.contig[o] < s {
			return false
		}
	}
	return true
}
