package httpapi

import (
	"testing"
	"time"

	"github.com/revocd/revocd/crypto/token"
)

// newTestAPI is New for tests: the Options fields d leaves zero that New
// requires get working values, a missing Verifier and Ring an HS256 ring of
// their own; an error fails tb.
func newTestAPI(tb testing.TB, d Deps) *API {
	tb.Helper()
	o := &d.Options
	if o.RequestTimeout == 0 {
		o.RequestTimeout = time.Second
	}
	if o.MaxAccessTTL == 0 {
		o.MaxAccessTTL = 24 * time.Hour
	}
	if o.AccessTTL == 0 {
		o.AccessTTL = 30 * time.Minute
	}
	if o.MaxBatchTokens == 0 {
		o.MaxBatchTokens = 1000
	}
	if d.Ring == nil {
		key, err := token.NewHMACKey("test-kid", []byte("test-secret-0123456789abcdef0123"))
		if err != nil {
			tb.Fatal(err)
		}
		d.Ring = token.NewRing(key)
	}
	if d.Verifier == nil {
		d.Verifier = token.NewVerifier(d.Ring, token.VerifierOptions{})
	}
	a, err := New(d)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}
