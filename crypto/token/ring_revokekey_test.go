package token

import (
	"errors"
	"testing"
	"time"
)

// TestRingRevokeKey: RevokeKey revokes a key the ring never held (a
// persisted revocation, a development key) keeping its material, so its
// authentic tokens fail with ErrKeyRevoked and forged ones with
// ErrSignature; Add and Rotate never bring it back; material already known
// is kept.
func TestRingRevokeKey(t *testing.T) {
	gone := mustKey(t, AlgEdDSA, "gone", 1)
	cur := mustKey(t, AlgEdDSA, "cur", 2)
	forger := mustKey(t, AlgEdDSA, "gone", 3) // same kid, other key
	sign := func(k *Key) string {
		tok, _, err := (&Issuer{Ring: NewRing(k)}).Issue(Spec{Subject: "s", TTL: time.Hour, JTI: "j"})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	authentic, forged := sign(gone), sign(forger)

	r := NewRing(cur)
	r.RevokeKey(gone)
	r.RevokeKey(forger) // material already known: kept
	r.Add(gone)
	r.Rotate(gone, time.Time{})
	if k, ok := r.RevokedKey("gone"); !ok || k != gone {
		t.Fatalf("RevokedKey = %v %v, want the first material", k, ok)
	}
	if r.Current() != cur {
		t.Fatalf("current %v, want cur: a revoked key never signs", r.Current())
	}
	v := NewVerifier(r, VerifierOptions{})
	var tk Token
	if err := v.Verify([]byte(authentic), &tk); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("authentic token of the revoked key: %v, want ErrKeyRevoked", err)
	}
	if err := v.Verify([]byte(forged), &tk); !errors.Is(err, ErrSignature) {
		t.Fatalf("forged token naming the revoked kid: %v, want ErrSignature", err)
	}
}
