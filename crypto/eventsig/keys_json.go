package eventsig

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/revocd/revocd/revocation"
)

// KeySource is anything with public keys by key id: *Verifier and *Signer.
type KeySource interface {
	Keys() map[string][]byte
}

// PublicKey is one entry of the GET /events/keys document.
type PublicKey struct {
	KeyID     string `json:"key_id"`
	Alg       string `json:"alg"`
	PublicKey []byte `json:"public_key"` // base64std in JSON
}

// KeysDocument is the GET /events/keys document.
type KeysDocument struct {
	Keys []PublicKey `json:"keys"`
}

// PublicKeysJSON returns the GET /events/keys document for src:
// {"keys":[{"key_id":…,"alg":"ML-DSA-65","public_key":base64std}]}, sorted
// by key id. It is safe for concurrent use if src is.
func PublicKeysJSON(src KeySource) ([]byte, error) {
	keys := src.Keys()
	doc := KeysDocument{Keys: make([]PublicKey, 0, len(keys))}
	for _, id := range slices.Sorted(maps.Keys(keys)) {
		doc.Keys = append(doc.Keys, PublicKey{KeyID: id, Alg: revocation.SigAlg, PublicKey: keys[id]})
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("eventsig: encoding keys: %w", err)
	}
	return b, nil
}

// TrustJSON parses a GET /events/keys document (as written by
// PublicKeysJSON) and trusts every key in it. An entry with another alg or
// an invalid key is an error (wrapping ErrInvalidKey), and then no key of
// the document is trusted. It is safe for concurrent use.
func (v *Verifier) TrustJSON(data []byte) error {
	var doc KeysDocument
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("eventsig: decoding keys: %w", err)
	}
	staged := newVerifier(0)
	for _, k := range doc.Keys {
		if k.Alg != revocation.SigAlg {
			return fmt.Errorf("%w: key %q has alg %q", ErrInvalidKey, k.KeyID, k.Alg)
		}
		if err := staged.Trust(k.KeyID, k.PublicKey); err != nil {
			return err
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for id, k := range staged.keys {
		v.keys[id] = k
	}
	return nil
}
