package token

import "time"

// RetireAfter reports when the key kid may be dropped (zero: never, e.g. the
// current key) and whether the ring holds kid. Lock-free.
func (r *Ring) RetireAfter(kid string) (time.Time, bool) {
	e, ok := r.load().keys[kid]
	return e.retireAfter, ok
}

// SetRetireAfter sets the time after which the non-current key kid may be
// dropped (used when restoring a persisted ring). It does nothing for the
// current key or an unknown kid.
func (r *Ring) SetRetireAfter(kid string, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.load()
	e, ok := st.keys[kid]
	if !ok || st.current == e.key {
		return
	}
	next := st.clone()
	e.retireAfter = t
	next.keys[kid] = e
	r.state.Store(next.finish())
}
