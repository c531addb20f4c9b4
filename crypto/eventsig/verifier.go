package eventsig

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/revocd/revocd/revocation"
)

// Verifier verifies signed events against public keys trusted by key id.
// It caches verified batch roots so that verifying the other events of a
// batch costs only hashes. A Verifier is safe for concurrent use.
type Verifier struct {
	mu   sync.RWMutex
	keys map[string]*trustedKey
	// nodeKeys are keys trusted for one origin only (TrustNode).
	nodeKeys map[nodeKey]*trustedKey
	cache    *rootCache
}

type trustedKey struct {
	pub *mldsa65.PublicKey
	raw []byte
	fp  [hashSize]byte // SHA-256 of raw
}

// NewVerifier returns a Verifier that trusts no key.
func NewVerifier() *Verifier { return newVerifier(defaultCacheSize) }

func newVerifier(cacheSize int) *Verifier {
	return &Verifier{keys: map[string]*trustedKey{}, cache: newRootCache(cacheSize)}
}

// Trust adds (or replaces) the ML-DSA-65 public key for keyID. Errors wrap
// ErrInvalidKey. Replacing a key invalidates nothing else: cached roots are
// bound to the exact public key.
func (v *Verifier) Trust(keyID string, pub []byte) error {
	k, err := parseTrusted(keyID, pub)
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.keys[keyID] = k
	v.mu.Unlock()
	return nil
}

func parseTrusted(keyID string, pub []byte) (*trustedKey, error) {
	if err := checkKeyID(keyID); err != nil {
		return nil, err
	}
	if len(pub) != mldsa65.PublicKeySize {
		return nil, fmt.Errorf("%w: public key is %d bytes, want %d", ErrInvalidKey, len(pub), mldsa65.PublicKeySize)
	}
	var pk mldsa65.PublicKey
	if err := pk.UnmarshalBinary(pub); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	raw := append([]byte(nil), pub...)
	return &trustedKey{pub: &pk, raw: raw, fp: sha256.Sum256(raw)}, nil
}

// Keys returns a copy of the trusted public keys by key id.
func (v *Verifier) Keys() map[string][]byte {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make(map[string][]byte, len(v.keys))
	for id, k := range v.keys {
		out[id] = append([]byte(nil), k.raw...)
	}
	return out
}

// Verify checks e.Sig against Canonical(e) and the key trusted for
// e.KeyID. The error wraps ErrUnsigned, ErrMalformedSig, ErrUnknownKey or
// ErrBadSignature. Verify never panics on malformed input.
func (v *Verifier) Verify(e *revocation.Event) error {
	if e == nil || len(e.Sig) == 0 {
		return ErrUnsigned
	}
	p, err := parseSig(e.Sig)
	if err != nil {
		return err
	}
	if e.Alg != revocation.SigAlg {
		return fmt.Errorf("%w: alg %q, want %q", ErrBadSignature, e.Alg, revocation.SigAlg)
	}
	v.mu.RLock()
	k := v.nodeKeys[nodeKey{e.Origin, e.KeyID}]
	if k == nil {
		k = v.keys[e.KeyID]
	}
	v.mu.RUnlock()
	if k == nil {
		return fmt.Errorf("%w: key id %q", ErrUnknownKey, e.KeyID)
	}
	leaf, _ := leafHash(e, nil)
	root := rootFromProof(leaf, p.index, p.count, p.proof)
	ck := cacheKey(e.KeyID, k, &root, p.rootSig)
	if v.cache.contains(ck) {
		return nil
	}
	if !mldsa65.Verify(k.pub, batchMessage(e.KeyID, &root), nil, p.rootSig) {
		return fmt.Errorf("%w: event %q", ErrBadSignature, e.EventID)
	}
	v.cache.add(ck)
	return nil
}

// cacheKey digests everything a cached verification depends on.
func cacheKey(keyID string, k *trustedKey, root *[hashSize]byte, sig []byte) [hashSize]byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(keyID)))
	h.Write(n[:])
	h.Write([]byte(keyID))
	h.Write(k.fp[:])
	h.Write(root[:])
	h.Write(sig)
	var out [hashSize]byte
	h.Sum(out[:0])
	return out
}
