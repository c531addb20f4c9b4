//go:build !race

// The race detector makes sync.Pool drop objects at random, so the
// allocation budget is pinned in normal builds only.

package validator

import (
	"testing"
	"time"

	"github.com/revocd/revocd/crypto/token"
)

// TestValidateAllocs pins the warm path's allocation budget: at most 2
// (the target; today one, the Claims' shared buffer).
func TestValidateAllocs(t *testing.T) {
	for _, alg := range []token.Algorithm{token.AlgEdDSA, token.AlgMLDSA65, token.AlgHS256} {
		t.Run(string(alg), func(t *testing.T) {
			f := newFixture(t, alg, time.Hour)
			opts := Options{MaxStaleness: time.Hour}
			if alg == token.AlgHS256 {
				opts.HMACSecret = testSecret
			}
			v := f.open(opts)
			tok := f.issue("alice", time.Hour, "")
			if _, err := v.Validate(tok); err != nil {
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(200, func() {
				if _, err := v.Validate(tok); err != nil {
					t.Fatal(err)
				}
			})
			if allocs > 2 {
				t.Fatalf("%v allocations per warm Validate, want at most 2", allocs)
			}
		})
	}
}
