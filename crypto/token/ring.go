package token

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Ring is the set of keys revocd signs and verifies with: one current key
// used for issuing, plus verify-only keys (added ones, and previous current
// keys kept until their retireAfter time).
//
// Ring is safe for concurrent use. Readers (Current, Lookup, Keys, JWKS and
// the Verifier) are lock-free: they load an immutable snapshot through an
// atomic.Pointer. Writers (Add, Rotate, Remove, DropRetired) are serialized
// by a mutex and publish a new snapshot (copy-on-write).
type Ring struct {
	mu    sync.Mutex // serializes writers
	state atomic.Pointer[ringState]
}

// ringState is an immutable snapshot of a Ring.
type ringState struct {
	current *Key
	keys    map[string]ringEntry // by kid
	sorted  []*Key               // by CreatedAt, then ID
	jwks    []byte
}

// ringEntry is a key plus the time after which it may be dropped
// (zero: never, e.g. the current key or a key added with Add).
type ringEntry struct {
	key         *Key
	retireAfter time.Time
}

// NewRing returns a ring whose current key is current. current may be nil,
// giving an empty ring that cannot issue until Rotate is called.
func NewRing(current *Key) *Ring {
	r := &Ring{}
	st := &ringState{keys: map[string]ringEntry{}}
	if current != nil {
		st.current = current
		st.keys[current.ID] = ringEntry{key: current}
	}
	r.state.Store(st.finish())
	return r
}

// load returns the current snapshot.
func (r *Ring) load() *ringState { return r.state.Load() }

// Current returns the key used for issuing, or nil if there is none (empty
// ring, or the current key was removed). Lock-free.
func (r *Ring) Current() *Key { return r.load().current }

// Lookup returns the key with id kid. Lock-free.
func (r *Ring) Lookup(kid string) (*Key, bool) {
	e, ok := r.load().keys[kid]
	return e.key, ok
}

// lookupBytes is Lookup without converting kid to a string (no allocation).
func (st *ringState) lookupBytes(kid []byte) *Key {
	return st.keys[string(kid)].key
}

// Keys returns every key in the ring (current and verify-only), ordered by
// CreatedAt then ID. The slice is fresh; the keys are shared. Lock-free.
func (r *Ring) Keys() []*Key { return slices.Clone(r.load().sorted) }

// JWKS returns the JSON Web Key Set {"keys":[...]} of the ring's asymmetric
// keys (HMAC keys are never published), ordered like Keys. The bytes are a
// fresh copy of a document computed once per ring change. Lock-free.
func (r *Ring) JWKS() []byte { return bytes.Clone(r.load().jwks) }

// Add inserts k as a verify-only key (it never signs until made current with
// Rotate). A key with the same ID is replaced; if that was the current key,
// k becomes the current key, so an ID always maps to exactly one key.
func (r *Ring) Add(k *Key) {
	if k == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.load().clone()
	if st.current != nil && st.current.ID == k.ID {
		st.current = k
	}
	st.keys[k.ID] = ringEntry{key: k}
	r.state.Store(st.finish())
}

// Rotate makes next the current key (adding it if needed, replacing any
// other key with its ID). The previous current key, if any and different,
// stays in the ring as verify-only until retireAfter, which should be the
// expiry of the last token it signed plus the verifier's leeway;
// DropRetired then removes it. A zero retireAfter keeps it until Remove.
func (r *Ring) Rotate(next *Key, retireAfter time.Time) {
	if next == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.load().clone()
	if old := st.current; old != nil && old.ID != next.ID {
		st.keys[old.ID] = ringEntry{key: old, retireAfter: retireAfter}
	}
	st.current = next
	st.keys[next.ID] = ringEntry{key: next}
	r.state.Store(st.finish())
}

// Remove deletes the key with id kid (for example after a revoke_kid, or
// when a retired key is no longer needed). Tokens carrying that kid then fail
// with ErrUnknownKey. Removing the current key leaves the ring without a
// current key: Issue fails until the next Rotate.
func (r *Ring) Remove(kid string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.load()
	if _, ok := old.keys[kid]; !ok {
		return
	}
	st := old.clone()
	delete(st.keys, kid)
	if st.current != nil && st.current.ID == kid {
		st.current = nil
	}
	r.state.Store(st.finish())
}

// DropRetired removes every non-current key whose retireAfter is set and
// before now, and returns their ids in ascending order (nil if none).
func (r *Ring) DropRetired(now time.Time) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.load()
	var dropped []string
	for kid, e := range old.keys {
		if !e.retireAfter.IsZero() && e.retireAfter.Before(now) && e.key != old.current {
			dropped = append(dropped, kid)
		}
	}
	if len(dropped) == 0 {
		return nil
	}
	st := old.clone()
	for _, kid := range dropped {
		delete(st.keys, kid)
	}
	r.state.Store(st.finish())
	slices.Sort(dropped)
	return dropped
}

// clone copies the mutable parts of a snapshot for a writer.
func (st *ringState) clone() *ringState {
	n := &ringState{current: st.current, keys: make(map[string]ringEntry, len(st.keys)+1)}
	for kid, e := range st.keys {
		n.keys[kid] = e
	}
	return n
}

// finish computes the derived fields (sorted keys, JWKS) of a new snapshot.
func (st *ringState) finish() *ringState {
	st.sorted = make([]*Key, 0, len(st.keys))
	for _, e := range st.keys {
		st.sorted = append(st.sorted, e.key)
	}
	slices.SortFunc(st.sorted, func(a, b *Key) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	jwks := struct {
		Keys []map[string]any `json:"keys"`
	}{Keys: []map[string]any{}}
	for _, k := range st.sorted {
		if j, ok := k.PublicJWK(); ok {
			jwks.Keys = append(jwks.Keys, j)
		}
	}
	b, err := json.Marshal(jwks)
	if err != nil { // cannot happen: strings only
		panic("token: marshal JWKS: " + err.Error())
	}
	st.jwks = b
	return st
}
