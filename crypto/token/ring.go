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
// keys kept until their retireAfter time), plus two special sets:
//
//   - the legacy key (SetLegacy): the key of the seed-era tokens, which have
//     no "kid"; it verifies them whatever the current key is;
//   - revoked keys (Revoke): never used, trusted or re-added again; their
//     verification material is kept only to recognise their tokens, so that
//     an authentic token of a revoked key fails with ErrKeyRevoked and a
//     forged one with ErrSignature.
//
// Ring is safe for concurrent use. Readers (Current, Lookup, Keys, JWKS,
// Legacy, IsRevoked and the Verifier) are lock-free: they load an immutable
// snapshot through an atomic.Pointer. Writers (Add, Rotate, Revoke, SetLegacy,
// DropRetired) are serialized by a mutex and publish a new snapshot
// (copy-on-write).
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
	// legacy verifies tokens without "kid" (nil: the current key does).
	legacy *Key
	// revoked holds the revoked kids, with their key when it was known.
	revoked map[string]*Key
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
	st := &ringState{keys: map[string]ringEntry{}, revoked: map[string]*Key{}}
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

// Keys returns every key in the ring (current and verify-only), ordered by
// CreatedAt then ID. The slice is fresh; the keys are shared. Lock-free.
func (r *Ring) Keys() []*Key { return slices.Clone(r.load().sorted) }

// JWKS returns the JSON Web Key Set {"keys":[...]} of the ring's asymmetric
// keys (HMAC keys are never published), ordered like Keys. The bytes are a
// fresh copy of a document computed once per ring change. Lock-free.
func (r *Ring) JWKS() []byte { return bytes.Clone(r.load().jwks) }

// Add inserts k as a verify-only key (it never signs until made current with
// Rotate). A key with the same ID is replaced; if that was the current key,
// k becomes the current key, so an ID always maps to exactly one key. A
// revoked kid is never added again.
func (r *Ring) Add(k *Key) {
	if k == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, revoked := r.load().revoked[k.ID]; revoked {
		return
	}
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
// Rotating to a revoked kid does nothing: a revoked key never signs again.
func (r *Ring) Rotate(next *Key, retireAfter time.Time) {
	if next == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, revoked := r.load().revoked[next.ID]; revoked {
		return
	}
	st := r.load().clone()
	if old := st.current; old != nil && old.ID != next.ID {
		st.keys[old.ID] = ringEntry{key: old, retireAfter: retireAfter}
	}
	st.current = next
	st.keys[next.ID] = ringEntry{key: next}
	r.state.Store(st.finish())
}

// Remove revokes the key kid: it is Revoke, kept for callers that predate it
// (a key leaves the ring for good only through revoke_kid; retired keys go
// through DropRetired).
func (r *Ring) Remove(kid string) { r.Revoke(kid) }

// Revoke takes the key kid out of service for good (revoke_kid): it never
// signs, never verifies a token as valid, and Add or Rotate never bring it
// back. Its verification material is kept so that Verify tells an authentic
// token of the revoked key (ErrKeyRevoked, with Token.Key set) from a forged
// one (ErrSignature): only the former may be reported as revoked. kid may be
// a kid the ring does not hold (a revocation that arrived first), and may be
// the legacy key's. Revoking the current key leaves the ring without a
// current key: Issue fails until the next Rotate.
func (r *Ring) Revoke(kid string) { r.revoke(kid, nil) }

// revoke is Revoke, with material the key to keep when the ring knows none.
func (r *Ring) revoke(kid string, material *Key) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.load().clone()
	k := st.keys[kid].key
	if k == nil && st.legacy != nil && st.legacy.ID == kid {
		k = st.legacy
	}
	if k == nil {
		k = st.revoked[kid] // already revoked: keep what was known
	}
	if k == nil {
		k = material
	}
	st.revoked[kid] = k
	delete(st.keys, kid)
	if st.current != nil && st.current.ID == kid {
		st.current = nil
	}
	r.state.Store(st.finish())
}

// RevokeKey is Revoke for a key whose material is known: k.ID is revoked
// and, unless the ring already holds material for it, k is kept to tell its
// authentic tokens (ErrKeyRevoked) from forged ones (ErrSignature). It
// restores a persisted revocation, or revokes a key the ring never held
// (e.g. a development key found in a production start).
func (r *Ring) RevokeKey(k *Key) {
	if k != nil {
		r.revoke(k.ID, k)
	}
}

// RevokedKey returns the verification material kept for the revoked kid
// (nil when the revocation arrived before the key was known) and whether kid
// is revoked. Lock-free.
func (r *Ring) RevokedKey(kid string) (*Key, bool) {
	k, ok := r.load().revoked[kid]
	return k, ok
}

// IsRevoked reports whether kid has been revoked (Revoke). Lock-free.
func (r *Ring) IsRevoked(kid string) bool {
	_, ok := r.load().revoked[kid]
	return ok
}

// RevokedKeyIDs returns the revoked kids in ascending order (for example to
// persist them). Lock-free.
func (r *Ring) RevokedKeyIDs() []string {
	st := r.load()
	ids := make([]string, 0, len(st.revoked))
	for kid := range st.revoked {
		ids = append(ids, kid)
	}
	slices.Sort(ids)
	return ids
}

// SetLegacy makes k the legacy key: the key that verifies tokens without a
// "kid" header (the seed's tokens, signed with JWT_SECRET_KEY), whatever the
// current key is, for as long as it stays set and k's kid is not revoked
// (then such tokens fail with ErrKeyRevoked, or ErrSignature when forged).
// Tokens whose kid is k.ID also verify with k when the ring holds no other
// key of that ID (after a rotation retired it). k is never the current key
// through SetLegacy, is not listed by Keys and, being HMAC, never in the
// JWKS. A nil k clears it: tokens without "kid" then verify with the current
// key, as in a ring that never had a legacy key.
func (r *Ring) SetLegacy(k *Key) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.load().clone()
	st.legacy = k
	if k != nil {
		if rk, revoked := st.revoked[k.ID]; revoked && rk == nil {
			st.revoked[k.ID] = k // material learnt for a kid revoked earlier
		}
	}
	r.state.Store(st.finish())
}

// Legacy returns the legacy key set by SetLegacy, or nil. Lock-free.
func (r *Ring) Legacy() *Key { return r.load().legacy }

// verifyKey returns the key that must verify a token with header kid
// (nil: no "kid" member) and whether that key is revoked; nil if no key can.
// It does not allocate.
func (st *ringState) verifyKey(kid []byte) (key *Key, revoked bool) {
	if kid == nil {
		if st.legacy == nil {
			return st.current, false
		}
		if rk, ok := st.revoked[st.legacy.ID]; ok {
			return rk, rk != nil
		}
		return st.legacy, false
	}
	if key = st.keys[string(kid)].key; key != nil {
		return key, false
	}
	if rk, ok := st.revoked[string(kid)]; ok {
		return rk, rk != nil
	}
	if st.legacy != nil && st.legacy.ID == string(kid) {
		return st.legacy, false
	}
	return nil, false
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
	n := &ringState{
		current: st.current, keys: make(map[string]ringEntry, len(st.keys)+1),
		legacy: st.legacy, revoked: make(map[string]*Key, len(st.revoked)+1),
	}
	for kid, e := range st.keys {
		n.keys[kid] = e
	}
	for kid, k := range st.revoked {
		n.revoked[kid] = k
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
