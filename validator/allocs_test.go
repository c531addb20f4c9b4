//go:build !race

// The race detector makes sync.Pool drop objects at random, so the
// allocation budget is pinned in normal builds only.

package validator

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"

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

// TestFastHTTPMiddlewareAllocs pins the fasthttp middleware's bearer path
// (no DPoP header): the DPoP support adds no allocation to it (one, the
// user value holding the Claims).
func TestFastHTTPMiddlewareAllocs(t *testing.T) {
	f := newFixture(t, token.AlgEdDSA, time.Hour)
	v := f.open(Options{MaxStaleness: time.Hour})
	h := v.FastHTTPMiddleware(func(ctx *fasthttp.RequestCtx) {})
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/protected")
	ctx.Request.Header.Set("Authorization", "Bearer "+f.issue("alice", time.Hour, ""))
	h(&ctx)
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("status %d", ctx.Response.StatusCode())
	}
	if allocs := testing.AllocsPerRun(200, func() { h(&ctx) }); allocs > 1 {
		t.Fatalf("%v allocations per warm bearer request, want at most 1", allocs)
	}
}
