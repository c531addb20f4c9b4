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

// PublicKey is one entry of the GET /events/keys document. NodeID, when
// set, names the only node whose events the key verifies (a key learnt from
// that node's announcement, see Verifier.TrustNode); a reader that ignores
// it trusts the key for every origin, as before node-bound keys existed.
type PublicKey struct {
	KeyID     string `json:"key_id"`
	Alg       string `json:"alg"`
	PublicKey []byte `json:"public_key"` // base64std in JSON
	NodeID    string `json:"node_id,omitempty"`
}

// NodeKeySource is a KeySource that also holds keys trusted for one node
// only: *Verifier.
type NodeKeySource interface {
	NodeKeys() []PublicKey
}

// KeysDocument is the GET /events/keys document.
type KeysDocument struct {
	Keys []PublicKey `json:"keys"`
}

// PublicKeysJSON returns the GET /events/keys document for src:
// {"keys":[{"key_id":…,"alg":"ML-DSA-65","public_key":base64std}]}, sorted
// by key id, then, when src is a NodeKeySource, its node-bound keys (with
// "node_id"), sorted by node and key id: everything a subscriber needs to
// verify every event the node serves, its peers' included. It is safe for
// concurrent use if src is.
func PublicKeysJSON(src KeySource) ([]byte, error) {
	keys := src.Keys()
	doc := KeysDocument{Keys: make([]PublicKey, 0, len(keys))}
	for _, id := range slices.Sorted(maps.Keys(keys)) {
		doc.Keys = append(doc.Keys, PublicKey{KeyID: id, Alg: revocation.SigAlg, PublicKey: keys[id]})
	}
	if ns, ok := src.(NodeKeySource); ok {
		doc.Keys = append(doc.Keys, ns.NodeKeys()...)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("eventsig: encoding keys: %w", err)
	}
	return b, nil
}

// TrustJSON parses a GET /events/keys document (as written by
// PublicKeysJSON) and trusts every key in it: an entry with "node_id" for
// that node's events only (TrustNode), the others for every origin. An
// entry with another alg or an invalid key is an error (wrapping
// ErrInvalidKey), and then no key of the document is trusted. It is safe
// for concurrent use.
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
		trust := staged.Trust
		if k.NodeID != "" {
			trust = func(keyID string, pub []byte) error { return staged.TrustNode(k.NodeID, keyID, pub) }
		}
		if err := trust(k.KeyID, k.PublicKey); err != nil {
			return err
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for id, k := range staged.keys {
		v.keys[id] = k
	}
	if len(staged.nodeKeys) > 0 && v.nodeKeys == nil {
		v.nodeKeys = map[nodeKey]*trustedKey{}
	}
	for nk, k := range staged.nodeKeys {
		v.nodeKeys[nk] = k
	}
	return nil
}
