package eventsig

import (
	"errors"
	"strings"
	"testing"

	"github.com/revocd/revocd/revocation"
)

// TestAnnouncementMAC: an announcement opens only under the secret it was
// sealed with, and any change to it is refused.
func TestAnnouncementMAC(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	s, err := NewSigner("k1", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := SealAnnouncement(secret, Announcement{NodeID: "a", KeyID: s.KeyID(), Pub: s.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := OpenAnnouncement(secret, b); err != nil || a.NodeID != "a" || a.KeyID != "k1" {
		t.Fatalf("open: %+v %v", a, err)
	}
	tampered := []byte(strings.Replace(string(b), `"node_id":"a"`, `"node_id":"b"`, 1))
	if string(tampered) == string(b) {
		t.Fatal("tampering changed nothing")
	}
	if len(b) > 2800 {
		t.Errorf("sealed announcement is %d bytes, want the key base64-encoded once (< 2800)", len(b))
	}
	tests := map[string]struct {
		secret, data []byte
	}{
		"other secret": {[]byte(strings.Repeat("x", 32)), b},
		"tampered":     {secret, tampered},
		"garbage":      {secret, []byte("{")},
	}
	for name, tc := range tests {
		if _, err := OpenAnnouncement(tc.secret, tc.data); !errors.Is(err, ErrBadAnnouncement) {
			t.Errorf("%s: %v, want ErrBadAnnouncement", name, err)
		}
	}
}

// TestTrustNodeBindsOrigin: a key trusted for node a verifies a's events
// only, even under a key id another key is trusted for globally.
func TestTrustNodeBindsOrigin(t *testing.T) {
	own, _ := NewSigner("k", nil)
	peer, _ := NewSigner("k", nil)
	v := NewVerifier()
	if err := v.Trust("k", own.PublicKey()); err != nil {
		t.Fatal(err)
	}
	if err := v.TrustNode("a", "k", peer.PublicKey()); err != nil {
		t.Fatal(err)
	}
	sign := func(origin string) *revocation.Event {
		e := &revocation.Event{EventID: "e-" + origin, Type: "revoke_jti", Value: "j", TS: 1, Origin: origin, Seq: 1}
		if err := peer.SignBatch([]*revocation.Event{e}); err != nil {
			t.Fatal(err)
		}
		return e
	}
	if err := v.Verify(sign("a")); err != nil {
		t.Fatalf("a's event: %v", err)
	}
	if err := v.Verify(sign("b")); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("b's event signed with a's key: %v, want ErrBadSignature", err)
	}
}
