package validator

import (
	"errors"
	"testing"
	"time"

	"github.com/revocd/revocd/actors/issuer"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/revocation"
)

// TestHMACKeyIDMatchesIssuer: the validator names the JWT_SECRET_KEY key
// as revocd's issuer does, or HS256 tokens would carry an unknown kid.
func TestHMACKeyIDMatchesIssuer(t *testing.T) {
	for _, s := range []string{testSecret, "another secret of some length"} {
		if got, want := hmacKeyID(s), issuer.SecretKeyID(s); got != want {
			t.Fatalf("hmacKeyID = %q, issuer.SecretKeyID = %q", got, want)
		}
	}
}

// TestValidateVerdicts: each kind of token gets its documented error,
// and revocations from the snapshot and from the stream both apply.
func TestValidateVerdicts(t *testing.T) {
	for _, alg := range []token.Algorithm{token.AlgEdDSA, token.AlgMLDSA65, token.AlgHS256} {
		t.Run(string(alg), func(t *testing.T) {
			f := newFixture(t, alg, time.Hour)
			early := f.issue("early", time.Hour, "")
			f.revoke(revocation.TypeSub, "early", nil) // in the snapshot
			opts := Options{}
			if alg == token.AlgHS256 {
				opts.HMACSecret = testSecret
			}
			v := f.open(opts)
			good := f.issue("alice", time.Hour, "")
			byJTI := f.issue("bob", time.Hour, "")
			f.revoke(revocation.TypeJTI, "jti-3", nil) // bob's jti, through the stream
			waitApplied(t, v, 2)
			other := &token.Issuer{Ring: f.ring, Issuer: "someone-else"}
			wrongIss, _, _ := other.Issue(token.Spec{Subject: "x", TTL: time.Hour, JTI: "j-x"})
			foreign, _ := token.GenerateKey(token.AlgEdDSA, "stranger", nil)
			unknown, _, _ := (&token.Issuer{Ring: token.NewRing(foreign), Issuer: fixtureIssuer}).Issue(token.Spec{Subject: "x", TTL: time.Hour, JTI: "j-y"})
			tests := []struct {
				name string
				tok  string
				want error
			}{
				{"valid", good, nil},
				{"valid with Bearer prefix", "Bearer " + good, nil},
				{"revoked by subject (snapshot)", early, ErrRevoked},
				{"revoked by jti (stream)", byJTI, ErrRevoked},
				{"expired", f.issue("carol", time.Second-time.Second+time.Second, ""), nil}, // replaced below
				{"refresh token", f.issue("dave", time.Hour, token.TypeRefresh), ErrInvalid},
				{"wrong issuer", wrongIss, ErrInvalid},
				{"malformed", "a.b.c", ErrInvalid},
				{"unknown key", unknown, ErrUnknownKey},
			}
			tests[4].tok, tests[4].want = expiredToken(t, f), ErrExpired
			for _, tt := range tests {
				c, err := v.Validate(tt.tok)
				if tt.want == nil {
					if err != nil || c.Subject != "alice" || len(c.Raw) == 0 || c.Issuer != fixtureIssuer {
						t.Errorf("%s: %+v, %v", tt.name, c, err)
					}
					continue
				}
				if !errors.Is(err, tt.want) {
					t.Errorf("%s: err %v, want %v", tt.name, err, tt.want)
				}
			}
		})
	}
}

// expiredToken issues a token whose exp has passed.
func expiredToken(t *testing.T, f *fixture) string {
	t.Helper()
	past := &token.Issuer{Ring: f.ring, Issuer: fixtureIssuer, Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }}
	tok, _, err := past.Issue(token.Spec{Subject: "old", TTL: time.Hour, JTI: "j-old"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestRevokeKidRevokesTheKey: a revoke_kid event turns away the key's
// tokens and marks the key revoked in the validator's ring, so the JWKS
// cannot bring it back.
func TestRevokeKidRevokesTheKey(t *testing.T) {
	f := newFixture(t, token.AlgEdDSA, time.Hour)
	v := f.open(Options{})
	tok := f.issue("alice", time.Hour, "")
	if _, err := v.Validate(tok); err != nil {
		t.Fatal(err)
	}
	f.revoke(revocation.TypeKid, f.ring.Current().ID, nil)
	waitApplied(t, v, 1)
	if _, err := v.Validate(tok); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after revoke_kid: %v, want ErrRevoked", err)
	}
	if !v.ring.IsRevoked(f.ring.Current().ID) {
		t.Fatal("the key is not revoked in the validator's ring")
	}
}

// TestUnverifiedEventsAreRefused: an event signed by a key the validator
// does not trust is not applied (a forged revocation, or a forged
// un-revocation path), and is counted.
func TestUnverifiedEventsAreRefused(t *testing.T) {
	f := newFixture(t, token.AlgEdDSA, time.Hour)
	pinned := []byte(mustKeys(t, f.signer))
	v := f.open(Options{EventKeys: pinned})
	tok := f.issue("alice", time.Hour, "")
	rogue, err := eventsig.NewSigner("ev-key", nil) // same key id, other key
	if err != nil {
		t.Fatal(err)
	}
	f.revoke(revocation.TypeSub, "alice", rogue)
	waitApplied(t, v, 1)
	if st := v.Status(); st.Rejected != 1 || st.Applied != 0 {
		t.Fatalf("status %+v, want one refused event", st)
	}
	if _, err := v.Validate(tok); err != nil {
		t.Fatalf("a forged revocation applied: %v", err)
	}
	f.revoke(revocation.TypeSub, "alice", nil)
	waitApplied(t, v, 2)
	if _, err := v.Validate(tok); !errors.Is(err, ErrRevoked) {
		t.Fatalf("a signed revocation after a refused one: %v", err)
	}
}

func mustKeys(t *testing.T, s *eventsig.Signer) string {
	t.Helper()
	b, err := eventsig.PublicKeysJSON(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStaleFailsClosed: with no heartbeat for MaxStaleness (injected
// clock), Validate returns ErrStale for a valid token, still refuses an
// invalid one as such, and with RemoteFallback asks revocd instead.
func TestStaleFailsClosed(t *testing.T) {
	f := newFixture(t, token.AlgEdDSA, time.Hour) // no heartbeat but the first
	clock := newClock()
	v := f.open(Options{MaxStaleness: time.Second, Now: clock.Now})
	fb := f.open(Options{MaxStaleness: time.Second, Now: clock.Now, RemoteFallback: true})
	tok := f.issue("alice", time.Hour, "")
	revoked := f.issue("bob", time.Hour, "")
	for _, x := range []*Validator{v, fb} {
		if _, err := x.Validate(tok); err != nil {
			t.Fatalf("fresh: %v", err)
		}
	}
	// The streams' first heartbeats (after the empty backlog) must land
	// before the clock moves, or they would make the views fresh again.
	waitBeat(t, v)
	waitBeat(t, fb)
	clock.Advance(time.Second + time.Millisecond)
	if _, err := v.Validate(tok); !errors.Is(err, ErrStale) {
		t.Fatalf("stale: %v, want ErrStale", err)
	}
	if !v.Status().Stale {
		t.Fatal("Status().Stale is false")
	}
	if _, err := v.Validate("a.b.c"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a malformed token while stale: %v, want ErrInvalid", err)
	}
	if c, err := fb.Validate(tok); err != nil || c.Subject != "alice" {
		t.Fatalf("remote fallback: %+v, %v", c, err)
	}
	f.ix.RevokeSub("bob", time.Now().Unix(), time.Now().Add(time.Hour).UnixMilli()) // known to revocd only
	if _, err := fb.Validate(revoked); !errors.Is(err, ErrRevoked) {
		t.Fatalf("remote fallback for a revoked token: %v, want ErrRevoked", err)
	}
}

// TestUnknownKidRefreshesJWKS: a token of a key added after bootstrap
// (a rotation) validates once the JWKS is fetched again; random kids do
// not make it fetch more than once per KeyRefreshInterval.
func TestUnknownKidRefreshesJWKS(t *testing.T) {
	f := newFixture(t, token.AlgEdDSA, time.Hour)
	clock := newClock()
	v := f.open(Options{Now: clock.Now, KeyRefreshInterval: time.Minute, MaxStaleness: time.Hour})
	next, err := token.GenerateKey(token.AlgEdDSA, "k-next", nil)
	if err != nil {
		t.Fatal(err)
	}
	f.ring.Rotate(next, time.Time{})
	tok := f.issue("alice", time.Hour, "")
	if _, err := v.Validate(tok); err != nil {
		t.Fatalf("token of a rotated-in key: %v", err)
	}
	third, _ := token.GenerateKey(token.AlgEdDSA, "k-third", nil)
	f.ring.Rotate(third, time.Time{})
	tok3 := f.issue("alice", time.Hour, "")
	if _, err := v.Validate(tok3); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("second unknown kid within KeyRefreshInterval: %v, want ErrUnknownKey (rate limited)", err)
	}
	clock.Advance(time.Minute)
	if _, err := v.Validate(tok3); err != nil {
		t.Fatalf("after KeyRefreshInterval: %v", err)
	}
}

// waitBeat waits for v's first stream heartbeat.
func waitBeat(t *testing.T, v *Validator) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for v.Status().Heartbeats == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no heartbeat within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCachedTokenIsCheckedAgain: a token answered from the claims cache
// is still refused once revoked (by jti or subject) or expired.
func TestCachedTokenIsCheckedAgain(t *testing.T) {
	f := newFixture(t, token.AlgEdDSA, time.Hour)
	clock := newClock()
	v := f.open(Options{Now: clock.Now, MaxStaleness: 24 * time.Hour})
	byJTI := f.issue("alice", time.Hour, "") // jti-1
	bySub := f.issue("bob", time.Hour, "")
	short := f.issue("carol", time.Minute, "")
	for _, tok := range []string{byJTI, bySub, short, byJTI, bySub, short} { // the second round hits the cache
		if _, err := v.Validate(tok); err != nil {
			t.Fatal(err)
		}
	}
	f.revoke(revocation.TypeJTI, "jti-1", nil)
	f.revoke(revocation.TypeSub, "bob", nil)
	waitApplied(t, v, 2)
	for _, tok := range []string{byJTI, bySub} {
		if _, err := v.Validate(tok); !errors.Is(err, ErrRevoked) {
			t.Fatalf("a cached token after its revocation: %v", err)
		}
	}
	clock.Advance(2 * time.Minute)
	if _, err := v.Validate(short); !errors.Is(err, ErrExpired) {
		t.Fatalf("a cached token after its exp: %v, want ErrExpired", err)
	}
}
