package eventsig

import (
	"errors"
	"strings"
	"testing"
)

// TestAnnouncementTrust: Accept trusts a sealed key for its node only,
// refuses another secret, this node itself and a node the caller's rule
// refuses, and reports a repeated announcement as not new.
func TestAnnouncementTrust(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	s, err := NewSigner("k1", nil)
	if err != nil {
		t.Fatal(err)
	}
	seal := func(secret []byte, node string) []byte {
		b, err := SealAnnouncement(secret, Announcement{NodeID: node, KeyID: s.KeyID(), Pub: s.PublicKey()})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name     string
		sealed   []byte
		allowed  func(string) bool
		wantErr  error
		wantNew  bool
		trustsOn string
	}{
		{"other secret", seal([]byte(strings.Repeat("x", 32)), "a"), nil, ErrBadAnnouncement, false, ""},
		{"this node", seal(secret, "self"), nil, ErrBadAnnouncement, false, ""},
		{"refused by the rule", seal(secret, "a"), func(n string) bool { return n == "b" }, ErrBadAnnouncement, false, ""},
		{"too long", make([]byte, maxAnnouncementBytes+1), nil, ErrBadAnnouncement, false, ""},
		{"trusted", seal(secret, "a"), func(n string) bool { return n == "a" }, nil, true, "a"},
		{"repeated", seal(secret, "a"), nil, nil, false, "a"},
	}
	v := NewVerifier()
	tr := NewAnnouncementTrust(secret, v, "self")
	var stored int
	tr.OnTrusted(func([]byte, Announcement) { stored++ })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, fresh, err := tr.Accept(tc.sealed, tc.allowed)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if fresh != tc.wantNew {
				t.Fatalf("new %v, want %v", fresh, tc.wantNew)
			}
			if tc.trustsOn != "" && !v.TrustsNode(tc.trustsOn, "k1") {
				t.Fatalf("key not trusted for %s", tc.trustsOn)
			}
		})
	}
	if v.TrustsNode("self", "k1") || len(v.Keys()) != 0 {
		t.Fatalf("trusted beyond node a: self=%v keys=%v", v.TrustsNode("self", "k1"), v.Keys())
	}
	if stored != 1 {
		t.Fatalf("OnTrusted called %d times, want 1", stored)
	}
}
