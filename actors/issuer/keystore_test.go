package issuer

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/persistence/sqlitestore"
)

const (
	testSecret    = "a-strong-production-secret-0123456789"
	testDevSecret = "your-secret-key-change-in-production" // config.SeedDefaultSecret
)

func openStore(t *testing.T) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "revocd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// putRing persists ring as the issuer actor does after a rotation.
func putRing(t *testing.T, st *sqlitestore.Store, ring *token.Ring, dev bool) {
	t.Helper()
	blob, err := EncodeRing(ring, dev)
	if err != nil {
		t.Fatal(err)
	}
	putKV(t, st, blob)
}

func putKV(t *testing.T, st *sqlitestore.Store, blob []byte) {
	t.Helper()
	tx, err := st.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.PutKV(RingKV, blob); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func loadRing(t *testing.T, st *sqlitestore.Store, o RingOptions) *token.Ring {
	t.Helper()
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxLifetime == 0 {
		o.MaxLifetime = 90 * 24 * time.Hour
	}
	if o.DevSecret == "" {
		o.DevSecret = testDevSecret
	}
	ring, err := LoadRing(context.Background(), st, o)
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

func mint(t *testing.T, ring *token.Ring) string {
	t.Helper()
	tok, _, err := (&token.Issuer{Ring: ring}).Issue(token.Spec{Subject: "alice", TTL: time.Hour, JTI: "j-" + ring.Current().ID})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func verify(ring *token.Ring, tok string) error {
	var parsed token.Token
	return token.NewVerifier(ring, token.VerifierOptions{}).Verify([]byte(tok), &parsed)
}

// TestLoadRingRevokedKidSurvivesRestart: issue #11 item 2 (a). The key of
// JWT_SECRET_KEY (or a generated key) is revoked; its index entry then
// expires (ttl_seconds, or 90 days): restarts with the same configuration
// must neither sign with it again nor accept its tokens. The old LoadRing
// learnt revocations only from the index (RingOptions.Revoked) and did not
// persist them, so with the entry gone the secret's key became current
// again and its tokens verified.
func TestLoadRingRevokedKidSurvivesRestart(t *testing.T) {
	cases := []struct {
		name string
		alg  token.Algorithm
		// viaIndex: the revocation is seen at start through the index
		// (a revoke_kid that arrived from another node) rather than by
		// the issuer's rotation.
		viaIndex bool
	}{
		{"secret key revoked by this node", token.AlgHS256, false},
		{"secret key revoked, seen in the index at one start", token.AlgHS256, true},
		{"generated key revoked by this node", token.AlgEdDSA, false},
		{"generated key revoked, seen in the index at one start", token.AlgEdDSA, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			o := RingOptions{Algorithm: tc.alg, Secret: testSecret}
			ring := loadRing(t, st, o)
			kid := ring.Current().ID
			tok := mint(t, ring)
			if tc.viaIndex {
				o.Revoked = func(k string) bool { return k == kid }
				ring = loadRing(t, st, o)
				o.Revoked = nil // the index entry expired
			} else {
				ring.Revoke(kid)
				next, err := token.GenerateKey(tc.alg, NewKeyID(tc.alg), rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				ring.Rotate(next, time.Now().Add(time.Hour))
				putRing(t, st, ring, false)
			}
			for restart := range 2 {
				ring = loadRing(t, st, o)
				if cur := ring.Current(); cur == nil || cur.ID == kid {
					t.Fatalf("restart %d: current key %v, want a key other than the revoked %s", restart, cur, kid)
				}
				if !ring.IsRevoked(kid) {
					t.Fatalf("restart %d: %s is not revoked", restart, kid)
				}
				if err := verify(ring, tok); !errors.Is(err, token.ErrKeyRevoked) {
					t.Fatalf("restart %d: token of the revoked key: %v, want ErrKeyRevoked", restart, err)
				}
				if err := verify(ring, mint(t, ring)); err != nil {
					t.Fatalf("restart %d: new token: %v", restart, err)
				}
			}
		})
	}
}

// TestLoadRingDevKeysNotTrustedInProduction: issue #11 item 3. A database
// used with --dev and then started without it stops trusting the keys the
// development node held (the public default secret's above all): their
// tokens are revoked, and a non-development key signs. The old LoadRing
// kept the development key verifying for MaxLifetime (90 days) after the
// production secret became current.
func TestLoadRingDevKeysNotTrustedInProduction(t *testing.T) {
	cases := []struct {
		name string
		dev  RingOptions
		prod RingOptions
		// unmarked: the ring was written without dev marks (an older
		// revocd): only the public secret's key is recognised.
		unmarked bool
	}{
		{"default secret key", RingOptions{Algorithm: token.AlgHS256, Secret: testDevSecret},
			RingOptions{Algorithm: token.AlgHS256, Secret: testSecret}, false},
		{"default secret key, ring without dev marks", RingOptions{Algorithm: token.AlgHS256, Secret: testDevSecret},
			RingOptions{Algorithm: token.AlgHS256, Secret: testSecret}, true},
		{"generated EdDSA key", RingOptions{Algorithm: token.AlgEdDSA, Secret: testDevSecret},
			RingOptions{Algorithm: token.AlgEdDSA, Secret: testSecret}, false},
		{"generated key, production switches to HS256", RingOptions{Algorithm: token.AlgES256, Secret: testDevSecret},
			RingOptions{Algorithm: token.AlgHS256, Secret: testSecret}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			tc.dev.Dev = true
			ring := loadRing(t, st, tc.dev)
			devKid := ring.Current().ID
			tok := mint(t, ring)
			if tc.unmarked {
				blob, _, err := st.GetKV(context.Background(), RingKV)
				if err != nil {
					t.Fatal(err)
				}
				var rec ringRecord
				if err := json.Unmarshal(blob, &rec); err != nil {
					t.Fatal(err)
				}
				for i := range rec.Keys {
					rec.Keys[i].Dev = false
				}
				blob, _ = json.Marshal(rec)
				putKV(t, st, blob)
			}
			for restart := range 2 {
				ring = loadRing(t, st, tc.prod)
				if cur := ring.Current(); cur == nil || cur.ID == devKid {
					t.Fatalf("restart %d: current key %v, want a key other than the development key %s", restart, cur, devKid)
				}
				if err := verify(ring, tok); !errors.Is(err, token.ErrKeyRevoked) {
					t.Fatalf("restart %d: token of the development key: %v, want ErrKeyRevoked", restart, err)
				}
				if err := verify(ring, mint(t, ring)); err != nil {
					t.Fatalf("restart %d: new token: %v", restart, err)
				}
			}
			// Back in --dev the key stays revoked: the file went to production.
			ring = loadRing(t, st, tc.dev)
			if !ring.IsRevoked(devKid) {
				t.Fatalf("development key %s trusted again in --dev after a production start", devKid)
			}
		})
	}
}
