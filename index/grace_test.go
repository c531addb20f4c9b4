package index

import (
	"math"
	"testing"
	"time"
)

// TestExpiryGraceOutlivesVerifierLeeway pins the fix for a revoked token
// coming back to life: a revocation that lives until the token's exp must
// stay in force for as long as the verifier still accepts the token (exp +
// leeway), or the token is valid again for the leeway.
func TestExpiryGraceOutlivesVerifierLeeway(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	exp := t0.Add(time.Minute).UnixMilli()
	tests := []struct {
		name  string
		grace time.Duration
		at    time.Duration // after exp
		want  bool          // still revoked
	}{
		{"no grace, just after exp", 0, time.Second, false},
		{"grace 5s, 1s after exp", 5 * time.Second, time.Second, true},
		{"grace 5s, 4s after exp", 5 * time.Second, 4 * time.Second, true},
		{"grace 5s, 6s after exp", 5 * time.Second, 6 * time.Second, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := t0
			ix := New(Options{Shards: 1, ExpiryGrace: tc.grace, Now: func() time.Time { return now }})
			ix.RevokeJTI("550e8400-e29b-41d4-a716-446655440000", exp)
			ix.RevokeJTI("not-a-uuid", exp)
			ix.RevokeSub("alice", t0.Unix(), exp)
			ix.RevokeKid("k1", exp)
			now = time.UnixMilli(exp).Add(tc.at)
			checks := []struct {
				jti, sub, kid string
				kind          Kind
			}{
				{"550e8400-e29b-41d4-a716-446655440000", "", "", JTI},
				{"not-a-uuid", "", "", JTI},
				{"", "alice", "", Sub},
				{"", "", "k1", Kid},
			}
			for _, c := range checks {
				got := ix.Check(c.jti, c.sub, c.kid, t0.Unix()) == c.kind
				if got != tc.want {
					t.Errorf("Check(%q,%q,%q) revoked=%v, want %v", c.jti, c.sub, c.kid, got, tc.want)
				}
			}
		})
	}
}

func TestExpiryGraceSaturates(t *testing.T) {
	ix := New(Options{ExpiryGrace: time.Hour})
	if got := ix.withGrace(math.MaxInt64 - 1); got != math.MaxInt64 {
		t.Fatalf("withGrace overflowed: %d", got)
	}
}
