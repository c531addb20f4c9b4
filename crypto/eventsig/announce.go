package eventsig

import (
	"cmp"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/revocd/revocd/revocation"
)

// ErrBadAnnouncement is wrapped by OpenAnnouncement's errors: the
// announcement is malformed or its MAC does not verify under the cluster
// secret.
var ErrBadAnnouncement = errors.New("eventsig: bad key announcement")

// MinClusterSecretLen is the shortest accepted cluster secret.
const MinClusterSecretLen = 32

// Announcement tells the nodes of a cluster which event-signing key a node
// signs with. It is authenticated by an HMAC-SHA256 keyed with a key
// derived (HKDF-SHA256) from the cluster secret: only a holder of the
// secret can announce a key, and the key is trusted for NodeID's events
// only (see Verifier.TrustNode).
type Announcement struct {
	NodeID   string `json:"node_id"`
	KeyID    string `json:"key_id"`
	Pub      []byte `json:"pub"`
	IssuedAt int64  `json:"issued_at"`
}

// sealed is an announcement's wire form: {"body":<the announcement's
// JSON, verbatim>,"mac":"<base64 HMAC of body>"}. The body is embedded as
// JSON, not base64 of it, so the public key is base64-encoded once (the
// form travels in a header of every Kafka record batch).
type sealed struct {
	Body json.RawMessage `json:"body"`
	MAC  []byte          `json:"mac"`
}

func announceKey(secret []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, nil, "revocd cluster key announcement v1", sha256.Size)
}

// SealAnnouncement returns a's authenticated wire form.
func SealAnnouncement(secret []byte, a Announcement) ([]byte, error) {
	if a.IssuedAt == 0 {
		a.IssuedAt = time.Now().Unix()
	}
	body, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("eventsig: encode announcement: %w", err)
	}
	k, err := announceKey(secret)
	if err != nil {
		return nil, fmt.Errorf("eventsig: derive announcement key: %w", err)
	}
	m := hmac.New(sha256.New, k)
	m.Write(body)
	// Written by hand: json.Marshal would re-compact (and HTML-escape)
	// the body, and the MAC covers its exact bytes.
	out := make([]byte, 0, len(body)+80)
	out = append(out, `{"body":`...)
	out = append(out, body...)
	out = append(out, `,"mac":"`...)
	out = base64.StdEncoding.AppendEncode(out, m.Sum(nil))
	return append(out, `"}`...), nil
}

// OpenAnnouncement checks b's MAC under secret and returns the
// announcement. Errors wrap ErrBadAnnouncement.
func OpenAnnouncement(secret, b []byte) (Announcement, error) {
	var s sealed
	if err := json.Unmarshal(b, &s); err != nil {
		return Announcement{}, fmt.Errorf("%w: %w", ErrBadAnnouncement, err)
	}
	if len(s.Body) == 0 || s.Body[0] != '{' {
		return Announcement{}, fmt.Errorf("%w: body is not a JSON object", ErrBadAnnouncement)
	}
	k, err := announceKey(secret)
	if err != nil {
		return Announcement{}, fmt.Errorf("%w: %w", ErrBadAnnouncement, err)
	}
	m := hmac.New(sha256.New, k)
	m.Write(s.Body)
	if !hmac.Equal(m.Sum(nil), s.MAC) {
		return Announcement{}, fmt.Errorf("%w: MAC does not verify (is CLUSTER_SECRET the same on every node?)", ErrBadAnnouncement)
	}
	var a Announcement
	if err := json.Unmarshal(s.Body, &a); err != nil {
		return Announcement{}, fmt.Errorf("%w: %w", ErrBadAnnouncement, err)
	}
	if a.NodeID == "" {
		return Announcement{}, fmt.Errorf("%w: no node id", ErrBadAnnouncement)
	}
	return a, nil
}

// TrustNode adds (or replaces) the ML-DSA-65 public key keyID of node
// nodeID: it verifies only events whose Origin is nodeID, and takes
// precedence over a key of the same id trusted with Trust for them. Errors
// wrap ErrInvalidKey.
func (v *Verifier) TrustNode(nodeID, keyID string, pub []byte) error {
	if nodeID == "" {
		return fmt.Errorf("%w: empty node id", ErrInvalidKey)
	}
	k, err := parseTrusted(keyID, pub)
	if err != nil {
		return err
	}
	v.mu.Lock()
	if v.nodeKeys == nil {
		v.nodeKeys = map[nodeKey]*trustedKey{}
	}
	v.nodeKeys[nodeKey{nodeID, keyID}] = k
	v.mu.Unlock()
	return nil
}

// TrustsNode reports whether keyID is trusted for nodeID's events by
// TrustNode.
func (v *Verifier) TrustsNode(nodeID, keyID string) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.nodeKeys[nodeKey{nodeID, keyID}] != nil
}

// NodeKey returns a copy of the public key trusted for nodeID's keyID by
// TrustNode, nil if none.
func (v *Verifier) NodeKey(nodeID, keyID string) []byte {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if k := v.nodeKeys[nodeKey{nodeID, keyID}]; k != nil {
		return append([]byte(nil), k.raw...)
	}
	return nil
}

// NodeKeys returns the keys trusted with TrustNode, each with its node id,
// sorted by node and key id (for the GET /events/keys document).
func (v *Verifier) NodeKeys() []PublicKey {
	v.mu.RLock()
	out := make([]PublicKey, 0, len(v.nodeKeys))
	for nk, k := range v.nodeKeys {
		out = append(out, PublicKey{KeyID: nk.key, Alg: revocation.SigAlg, PublicKey: append([]byte(nil), k.raw...), NodeID: nk.node})
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b PublicKey) int {
		return cmp.Or(strings.Compare(a.NodeID, b.NodeID), strings.Compare(a.KeyID, b.KeyID))
	})
	return out
}

type nodeKey struct{ node, key string }
