package token

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// seedToken is a token as the seed's service minted it: HS256 with the
// configured secret, no "kid" header.
func seedToken(tb testing.TB, k *Key, exp time.Time) string {
	tb.Helper()
	return rawToken(tb, k, `{"alg":"HS256","typ":"JWT"}`,
		fmt.Sprintf(`{"sub":"seed-user","exp":%d,"iat":%d,"jti":"seed-jti","iss":"revocd"}`, exp.Unix(), t0.Unix()))
}

// TestLegacyKeyVerifiesSeedEraTokens: a token without "kid" verifies against
// the legacy key (the key of JWT_SECRET_KEY) whatever the current key is,
// until that key is revoked; forged ones never verify, and a revoked legacy
// key's authentic tokens are told apart (ErrKeyRevoked) from forged ones.
func TestLegacyKeyVerifiesSeedEraTokens(t *testing.T) {
	secret := []byte("the-configured-jwt-secret-key-0123456789")
	legacyKey := func(t *testing.T) *Key {
		k, err := NewHMACKey("hs-legacy", secret)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	forger, err := NewHMACKey("hs-legacy", []byte("not-the-secret-but-just-as-long-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		// ring builds the ring from the legacy key.
		ring func(t *testing.T, l *Key) *Ring
		// want is the outcome for an authentic seed token, forged for one
		// signed with another secret.
		want, forged error
	}{
		{"before rotation", func(t *testing.T, l *Key) *Ring {
			r := NewRing(l)
			r.SetLegacy(l)
			return r
		}, nil, ErrSignature},
		{"after rotation", func(t *testing.T, l *Key) *Ring {
			r := NewRing(l)
			r.SetLegacy(l)
			r.Rotate(mustKey(t, AlgHS256, "hs-next", 5), t0.Add(time.Minute))
			return r
		}, nil, ErrSignature},
		{"after rotation and retirement of the old key", func(t *testing.T, l *Key) *Ring {
			r := NewRing(l)
			r.SetLegacy(l)
			r.Rotate(mustKey(t, AlgHS256, "hs-next", 5), t0.Add(-time.Hour))
			if got := r.DropRetired(t0); !slices.Equal(got, []string{"hs-legacy"}) {
				t.Fatalf("DropRetired = %v", got)
			}
			return r
		}, nil, ErrSignature},
		{"current key EdDSA", func(t *testing.T, l *Key) *Ring {
			r := NewRing(mustKey(t, AlgEdDSA, "ed-1", 6))
			r.SetLegacy(l)
			return r
		}, nil, ErrSignature},
		{"current key ML-DSA-65, legacy never in the ring", func(t *testing.T, l *Key) *Ring {
			r := NewRing(mustKey(t, AlgMLDSA65, "mldsa-1", 7))
			r.SetLegacy(l)
			return r
		}, nil, ErrSignature},
		{"legacy key revoked after rotation", func(t *testing.T, l *Key) *Ring {
			r := NewRing(l)
			r.SetLegacy(l)
			r.Rotate(mustKey(t, AlgHS256, "hs-next", 5), t0.Add(time.Minute))
			r.Revoke(l.ID)
			return r
		}, ErrKeyRevoked, ErrSignature},
		{"legacy key revoked while current", func(t *testing.T, l *Key) *Ring {
			r := NewRing(l)
			r.SetLegacy(l)
			r.Revoke(l.ID)
			r.Rotate(mustKey(t, AlgHS256, "hs-next", 5), time.Time{})
			return r
		}, ErrKeyRevoked, ErrSignature},
		{"legacy kid revoked before the legacy key was set (restart)", func(t *testing.T, l *Key) *Ring {
			r := NewRing(mustKey(t, AlgEdDSA, "ed-1", 6))
			r.Revoke(l.ID)
			r.SetLegacy(l)
			return r
		}, ErrKeyRevoked, ErrSignature},
		{"no legacy key: the current key verifies kid-less tokens", func(t *testing.T, l *Key) *Ring {
			return NewRing(l)
		}, nil, ErrSignature},
		{"no legacy key after rotation", func(t *testing.T, l *Key) *Ring {
			r := NewRing(l)
			r.Rotate(mustKey(t, AlgHS256, "hs-next", 5), t0.Add(time.Minute))
			return r
		}, ErrSignature, ErrSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := legacyKey(t)
			ring := tc.ring(t, l)
			ver := NewVerifier(ring, VerifierOptions{Issuer: "revocd", Now: func() time.Time { return t0 }})
			var tk Token
			err := ver.Verify([]byte(seedToken(t, l, t0.Add(time.Hour))), &tk)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("seed token: %v, want %v", err, tc.want)
			}
			if authentic := tc.want == nil || errors.Is(tc.want, ErrKeyRevoked); authentic != (tk.Key != nil) {
				t.Fatalf("seed token: Key = %v, authentic = %v", tk.Key, authentic)
			}
			tk.Reset()
			if err := ver.Verify([]byte(seedToken(t, forger, t0.Add(time.Hour))), &tk); !errors.Is(err, tc.forged) || tk.Key != nil {
				t.Fatalf("forged seed token: %v (key %v), want %v", err, tk.Key, tc.forged)
			}
			// Revoked beats expired: an expired authentic token of a revoked
			// legacy key still reports ErrKeyRevoked.
			tk.Reset()
			err = ver.Verify([]byte(seedToken(t, l, t0.Add(-time.Hour))), &tk)
			if want := tc.want; want == nil {
				if !errors.Is(err, ErrExpired) {
					t.Fatalf("expired seed token: %v", err)
				}
			} else if !errors.Is(err, want) {
				t.Fatalf("expired seed token: %v, want %v", err, want)
			}
		})
	}
}

func TestLegacyKeyRingState(t *testing.T) {
	l, err := NewHMACKey("hs-legacy", []byte("the-configured-jwt-secret-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	r := NewRing(mustKey(t, AlgEdDSA, "ed-1", 6))
	r.SetLegacy(l)
	if r.Legacy() != l || slices.Contains(kids(r.Keys()), l.ID) || r.IsRevoked(l.ID) {
		t.Fatalf("legacy %v keys %v", r.Legacy(), kids(r.Keys()))
	}
	r.Revoke(l.ID)
	r.Revoke("ed-1")
	if !r.IsRevoked(l.ID) || !slices.Equal(r.RevokedKeyIDs(), []string{"ed-1", l.ID}) || r.Current() != nil {
		t.Fatalf("revoked %v current %v", r.RevokedKeyIDs(), r.Current())
	}
	// A revoked key never comes back, neither as current nor verify-only.
	r.Rotate(mustKey(t, AlgEdDSA, "ed-1", 6), time.Time{})
	r.Add(l)
	if r.Current() != nil || len(r.Keys()) != 0 {
		t.Fatalf("revoked key back: current %v keys %v", r.Current(), kids(r.Keys()))
	}
	// A kid-less seed token of the revoked legacy key says so (authentic).
	var tk Token
	err = NewVerifier(r, VerifierOptions{Now: func() time.Time { return t0 }}).Verify([]byte(seedToken(t, l, t0.Add(time.Hour))), &tk)
	if !errors.Is(err, ErrKeyRevoked) || tk.Key != l || Message(err) != "Token has been revoked" {
		t.Fatalf("revoked legacy: %v", err)
	}
	r.SetLegacy(nil)
	if r.Legacy() != nil {
		t.Fatal("SetLegacy(nil)")
	}
}

func TestLegacyVerifyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	l, err := NewHMACKey("hs-legacy", []byte("the-configured-jwt-secret-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	r := NewRing(mustKey(t, AlgEdDSA, "ed-1", 6))
	r.SetLegacy(l)
	ver := NewVerifier(r, VerifierOptions{Issuer: "revocd", Now: func() time.Time { return t0 }})
	tok := []byte(seedToken(t, l, t0.Add(time.Hour)))
	var tk Token
	run := func() {
		if err := ver.Verify(tok, &tk); err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Fatalf("kid-less HS256 with a legacy key: %v allocs/op, want 0", n)
	}
}
