package index

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestCheckAllocatesNothing pins the zero-allocation contract of Check and
// CheckBytes on hits and misses of every kind, UUID and non-UUID jtis.
func TestCheckAllocatesNothing(t *testing.T) {
	clk := newFakeClock(t0)
	ix := New(Options{Now: clk.Now})
	ix.RevokeJTI(uuidA, t0+hour)
	ix.RevokeJTI("plain-jti", t0+hour)
	ix.RevokeSub("alice", math.MaxInt64, t0+hour)
	ix.RevokeKid("k1", t0+hour)
	ix.RevokeJTI(uuidFrom(1, 1), t0+1000) // expired below: found but not live
	clk.Advance(2 * time.Second)

	cases := []struct {
		name          string
		jti, sub, kid string
		want          Kind
	}{
		{"miss all kinds", uuidB, "bob", "k2", None},
		{"miss non-uuid jti", "other-jti", "bob", "k2", None},
		{"hit uuid jti", uuidA, "bob", "k2", JTI},
		{"hit upper uuid jti", strings.ToUpper(uuidA), "", "", JTI},
		{"hit plain jti", "plain-jti", "bob", "k2", JTI},
		{"hit sub", uuidB, "alice", "k2", Sub},
		{"hit kid", uuidB, "bob", "k1", Kid},
		{"expired entry", uuidFrom(1, 1), "", "", None},
		{"empty", "", "", "", None},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bj, bs, bk := []byte(tc.jti), []byte(tc.sub), []byte(tc.kid)
			var got Kind
			if a := testing.AllocsPerRun(200, func() { got = ix.Check(tc.jti, tc.sub, tc.kid, 0) }); a != 0 {
				t.Errorf("Check allocates %v per run", a)
			}
			if got != tc.want {
				t.Errorf("Check = %v, want %v", got, tc.want)
			}
			if a := testing.AllocsPerRun(200, func() { got = ix.CheckBytes(bj, bs, bk, 0) }); a != 0 {
				t.Errorf("CheckBytes allocates %v per run", a)
			}
			if got != tc.want {
				t.Errorf("CheckBytes = %v, want %v", got, tc.want)
			}
		})
	}
}
