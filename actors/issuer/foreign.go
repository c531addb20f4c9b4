package issuer

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/revocation"
)

// MaxForeignKeys bounds the keys of other nodes one node keeps: a received
// key beyond it is refused (ErrTooManyKeys).
const MaxForeignKeys = 1024

// Refusals of a received key_state (see Keys.Merge), each wrapping
// ErrForeignKey.
var (
	// ErrKeyConflict: the kid is known with other material.
	ErrKeyConflict = fmt.Errorf("%w: the kid is known with other material", ErrForeignKey)
	// ErrKeyRevoked: the kid is revoked; a revocation is permanent.
	ErrKeyRevoked = fmt.Errorf("%w: the kid is revoked", ErrForeignKey)
	// ErrTooManyKeys: MaxForeignKeys keys of other nodes are held already.
	ErrTooManyKeys = fmt.Errorf("%w: too many keys of other nodes", ErrForeignKey)
)

// OriginState is the latest state of a key as one other node published it.
type OriginState struct {
	// TS is the key_state event's TS (Unix ms): an older one is ignored.
	TS          int64                `json:"ts"`
	State       revocation.KeyStatus `json:"state"`
	VerifyUntil int64                `json:"verify_until,omitempty"`
}

// ForeignKey is a key other nodes published: this node verifies its tokens
// and never signs with it.
type ForeignKey struct {
	// Key is the verify-only key (for HS256 the opened secret).
	Key *token.Key
	// Own is set when this node holds the same key itself (an HS256 key
	// derived from the JWT_SECRET_KEY every node shares): it is persisted
	// and published as this node's key, and Origins only keep it verifying
	// while another node may still sign with it.
	Own bool
	// Origins are the nodes that published the key, with their states.
	Origins map[string]OriginState
	// OwnRetire is, for an Own key this node no longer signs with, when
	// its own tokens end (Unix ms); the ring keeps the key longer while
	// another node may sign with it.
	OwnRetire int64
}

// verifyUntil is the end of the key's tokens over every origin: zero (no
// end) while any origin may still sign with it.
func (f *ForeignKey) verifyUntil() time.Time {
	var last int64
	for _, s := range f.Origins {
		if s.State == revocation.KeyActive || s.VerifyUntil == 0 {
			return time.Time{}
		}
		last = max(last, s.VerifyUntil)
	}
	return time.UnixMilli(last)
}

// PublishedState is the state of one of this node's keys as last published.
type PublishedState struct {
	State       revocation.KeyStatus `json:"state"`
	VerifyUntil int64                `json:"verify_until,omitempty"`
}

// Keys is the issuer's key state: the token ring, the keys of other nodes
// in it, and what this node published of its own keys. It is owned by the
// issuer actor (and by LoadKeys before the actor starts); the Ring itself
// is safe for concurrent use.
type Keys struct {
	Ring      *token.Ring
	Foreign   map[string]*ForeignKey
	Published map[string]PublishedState
}

// own reports whether kid is one of this node's keys (it may publish it).
func (ks *Keys) own(kid string) bool {
	f, ok := ks.Foreign[kid]
	return !ok || f.Own
}

// Merge applies a key_state event of another node (origin, ts) whose key is
// k (keyOfState): a new kid joins the ring verify-only; a known one keeps
// its material (a different one is ErrKeyConflict) and takes the state. A
// revoked kid stays revoked (ErrKeyRevoked); beyond MaxForeignKeys a new kid
// is refused (ErrTooManyKeys); a key whose tokens have all expired by now
// is ignored. It reports whether anything changed.
func (ks *Keys) Merge(origin string, ts int64, st *revocation.KeyState, k *token.Key, now time.Time) (bool, error) {
	ring := ks.Ring
	if ring.IsRevoked(st.Kid) {
		return false, ErrKeyRevoked
	}
	os := OriginState{TS: ts, State: st.State, VerifyUntil: st.VerifyUntil}
	f, known := ks.Foreign[st.Kid]
	held, inRing := ring.Lookup(st.Kid)
	switch {
	case inRing && !held.SameMaterial(k):
		return false, ErrKeyConflict
	case known:
		if prev, ok := f.Origins[origin]; ok && prev.TS > ts {
			return false, nil // an older state
		}
		if prev, ok := f.Origins[origin]; ok && prev == os {
			return false, nil
		}
	default:
		if st.VerifyUntil != 0 && st.VerifyUntil < now.UnixMilli() {
			return false, nil
		}
		if !inRing && ks.foreignOnly() >= MaxForeignKeys {
			return false, ErrTooManyKeys
		}
		f = &ForeignKey{Key: k, Own: inRing, Origins: map[string]OriginState{}}
		if inRing {
			f.Key = held
			if cur := ring.Current(); cur == nil || cur.ID != st.Kid {
				t, _ := ring.RetireAfter(st.Kid)
				f.OwnRetire = unixMilliOrZero(t)
			}
		}
		if ks.Foreign == nil {
			ks.Foreign = map[string]*ForeignKey{}
		}
		ks.Foreign[st.Kid] = f
	}
	f.Origins[origin] = os
	if !inRing {
		ring.Add(f.Key)
	}
	ks.applyRetire(st.Kid)
	return true, nil
}

// foreignOnly counts the keys held for other nodes only.
func (ks *Keys) foreignOnly() int {
	n := 0
	for _, f := range ks.Foreign {
		if !f.Own {
			n++
		}
	}
	return n
}

// applyRetire sets the ring's retire time of kid from every holder's view:
// a key other nodes may still sign with is kept; otherwise it is dropped
// after the latest verify_until of its holders (this node's included).
func (ks *Keys) applyRetire(kid string) {
	f, ok := ks.Foreign[kid]
	if !ok {
		return
	}
	ring := ks.Ring
	if cur := ring.Current(); cur != nil && cur.ID == kid {
		return
	}
	until := f.verifyUntil()
	if f.Own && !until.IsZero() {
		if f.OwnRetire == 0 {
			until = time.Time{} // kept by this node
		} else if own := time.UnixMilli(f.OwnRetire); own.After(until) {
			until = own
		}
	}
	ring.SetRetireAfter(kid, until)
}

// forget drops the foreign records whose key left the ring (retired by
// DropRetired, or revoked): they are persisted no more.
func (ks *Keys) forget() {
	for _, kid := range slices.Collect(maps.Keys(ks.Foreign)) {
		if _, ok := ks.Ring.Lookup(kid); !ok {
			delete(ks.Foreign, kid)
		}
	}
}

// toPublish returns the states of this node's keys that differ from what
// was last published: the current key active, every other key retired
// until its retire time (a kept key, with no retire time, stays active).
func (ks *Keys) toPublish() map[string]PublishedState {
	out := map[string]PublishedState{}
	cur := ks.Ring.Current()
	for _, k := range ks.Ring.Keys() {
		if !ks.own(k.ID) || k.VerifyOnly() {
			continue
		}
		st := PublishedState{State: revocation.KeyActive}
		if cur == nil || k.ID != cur.ID {
			t, _ := ks.Ring.RetireAfter(k.ID)
			if f, ok := ks.Foreign[k.ID]; ok && f.OwnRetire != 0 {
				t = time.UnixMilli(f.OwnRetire)
			}
			if !t.IsZero() {
				st = PublishedState{State: revocation.KeyRetired, VerifyUntil: t.UnixMilli()}
			}
		}
		if prev, ok := ks.Published[k.ID]; !ok || prev != st {
			out[k.ID] = st
		}
	}
	return out
}

// errNoWrap is returned when an HS256 key cannot be published: sealing
// needs JWT_SECRET_KEY.
var errNoWrap = errors.New("issuer: cannot publish an HS256 key without JWT_SECRET_KEY")

func unixMilliOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
