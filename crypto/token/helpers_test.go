package token

import (
	"io"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
)

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var allAlgs = []Algorithm{AlgHS256, AlgEdDSA, AlgES256, AlgMLDSA65}

// detRand returns a deterministic entropy source.
func detRand(seed uint64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return mrand.NewChaCha8(s)
}

// clock is a manually advanced clock.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func mustKey(tb testing.TB, alg Algorithm, kid string, seed uint64) *Key {
	tb.Helper()
	k, err := GenerateKey(alg, kid, detRand(seed))
	if err != nil {
		tb.Fatalf("GenerateKey(%s): %v", alg, err)
	}
	return k
}

// fixture is a ring with one key per algorithm (current: the first given),
// an issuer and a verifier sharing a clock.
type fixture struct {
	ring  *Ring
	keys  map[Algorithm]*Key
	clk   *clock
	iss   *Issuer
	ver   *Verifier
	opts  VerifierOptions
	issue func(tb testing.TB, alg Algorithm, s Spec) string
}

func newFixture(tb testing.TB, opts VerifierOptions) *fixture {
	tb.Helper()
	f := &fixture{keys: map[Algorithm]*Key{}, clk: &clock{t: t0}}
	for i, alg := range allAlgs {
		f.keys[alg] = mustKey(tb, alg, "kid-"+string(alg), uint64(i+1))
	}
	f.ring = NewRing(f.keys[AlgHS256])
	for _, alg := range allAlgs[1:] {
		f.ring.Add(f.keys[alg])
	}
	f.iss = &Issuer{Ring: f.ring, Issuer: "revocd", Now: f.clk.Now}
	if opts.Now == nil {
		opts.Now = f.clk.Now
	}
	f.opts = opts
	f.ver = NewVerifier(f.ring, opts)
	f.issue = func(tb testing.TB, alg Algorithm, s Spec) string {
		tb.Helper()
		if s.Subject == "" {
			s.Subject = "alice"
		}
		if s.TTL == 0 {
			s.TTL = 15 * time.Minute
		}
		if s.JTI == "" {
			s.JTI = uuid.NewString()
		}
		// Issue with a ring whose current key is alg's, sharing the keys.
		r := NewRing(f.keys[alg])
		is := *f.iss
		is.Ring = r
		tok, _, err := is.Issue(s)
		if err != nil {
			tb.Fatalf("Issue(%s): %v", alg, err)
		}
		return tok
	}
	return f
}
