package eventsig

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
)

func TestPublicKeysJSON(t *testing.T) {
	s := sharedSigner(t)
	other, _ := NewSigner("a-older", detRand(4))
	v := trusting(t, s)
	if err := v.Trust(other.KeyID(), other.PublicKey()); err != nil {
		t.Fatal(err)
	}
	b, err := PublicKeysJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []struct {
			KeyID     string `json:"key_id"`
			Alg       string `json:"alg"`
			PublicKey string `json:"public_key"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 2 || doc.Keys[0].KeyID != "a-older" || doc.Keys[1].KeyID != "k1" {
		t.Fatalf("keys not sorted by id: %s", b)
	}
	raw, err := base64.StdEncoding.DecodeString(doc.Keys[1].PublicKey)
	if err != nil || !bytes.Equal(raw, s.PublicKey()) || doc.Keys[1].Alg != "ML-DSA-65" {
		t.Fatalf("bad entry: %v", err)
	}

	// A peer trusts the document and verifies our events.
	peer := NewVerifier()
	if err := peer.TrustJSON(b); err != nil {
		t.Fatal(err)
	}
	if err := peer.Verify(signed(t, 2)[1]); err != nil {
		t.Fatal(err)
	}
	if sb, _ := PublicKeysJSON(s); !bytes.Contains(sb, []byte(`"key_id":"k1"`)) {
		t.Fatalf("signer document: %s", sb)
	}
	empty, _ := PublicKeysJSON(NewVerifier())
	if string(empty) != `{"keys":[]}` {
		t.Fatalf("empty document: %s", empty)
	}
}

func TestTrustJSONRejects(t *testing.T) {
	good, _ := PublicKeysJSON(sharedSigner(t))
	for name, doc := range map[string]string{
		"not json":  "{",
		"alg":       `{"keys":[{"key_id":"x","alg":"Ed25519","public_key":"AAAA"}]}`,
		"short key": `{"keys":[{"key_id":"x","alg":"ML-DSA-65","public_key":"AAAA"}]}`,
		"mixed":     string(good[:len(good)-2]) + `,{"key_id":"y","alg":"ML-DSA-65","public_key":""}]}`,
	} {
		v := NewVerifier()
		if err := v.TrustJSON([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if name != "not json" && !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: err = %v", name, err)
		}
		if len(v.Keys()) != 0 {
			t.Errorf("%s: keys trusted despite error", name)
		}
	}
}

// TestPublicKeysJSONCarriesNodeKeys: a node's /events/keys document lists
// the keys it learnt from its peers' announcements, bound to their nodes,
// so a subscriber following that node verifies the peers' events it serves
// (and only as those peers' events).
func TestPublicKeysJSONCarriesNodeKeys(t *testing.T) {
	s := sharedSigner(t) // node-a's key "k1" (makeEvents' origin)
	node := NewVerifier()
	if err := node.TrustNode("node-a", s.KeyID(), s.PublicKey()); err != nil {
		t.Fatal(err)
	}
	doc, err := PublicKeysJSON(node)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte(`"node_id":"node-a"`)) {
		t.Fatalf("node-bound key missing from the document: %s", doc)
	}
	sub := NewVerifier()
	if err := sub.TrustJSON(doc); err != nil {
		t.Fatal(err)
	}
	events := signed(t, 2)
	if err := sub.Verify(events[1]); err != nil {
		t.Fatalf("subscriber cannot verify node-a's event: %v", err)
	}
	forged := clone(events[1])
	forged.Origin = "node-b"
	if err := sub.Verify(forged); err == nil {
		t.Fatal("a node-bound key verified another origin's event")
	}
	if len(sub.Keys()) != 0 {
		t.Fatalf("node-bound key trusted for every origin: %v", sub.Keys())
	}
}
