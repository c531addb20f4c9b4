package issuer

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/revocation"
)

const testWrap = "a-cluster-jwt-secret-of-32-bytes!"

func genKey(t *testing.T, alg token.Algorithm) *token.Key {
	t.Helper()
	k, err := newSigningKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// published returns k as another node publishes it, and the key a receiver
// makes of that payload.
func published(t *testing.T, k *token.Key, st revocation.KeyStatus, until int64) (*revocation.KeyState, *token.Key) {
	t.Helper()
	ks, err := keyStateOf(k, st, until, testWrap)
	if err != nil {
		t.Fatal(err)
	}
	data, err := ks.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := revocation.UnmarshalKeyState(data)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := keyOfState(got, testWrap)
	if err != nil {
		t.Fatalf("keyOfState(%s): %v", k.ID, err)
	}
	return got, rk
}

// Every algorithm's published key verifies the origin's tokens on the
// receiver and cannot sign there.
func TestKeyStateCarriesEveryAlgorithm(t *testing.T) {
	for _, alg := range []token.Algorithm{token.AlgEdDSA, token.AlgES256, token.AlgMLDSA65, token.AlgHS256} {
		t.Run(string(alg), func(t *testing.T) {
			k := genKey(t, alg)
			_, rk := published(t, k, revocation.KeyActive, 0)
			if !rk.SameMaterial(k) || rk.ID != k.ID {
				t.Fatalf("received key %v differs from %v", rk, k)
			}
			if alg != token.AlgHS256 && !rk.VerifyOnly() {
				t.Fatal("an asymmetric key arrived with private material")
			}
			iss := &token.Issuer{Ring: token.NewRing(k), Issuer: "x"}
			tok, _, err := iss.Issue(token.Spec{Subject: "s", TTL: time.Minute, JTI: "j"})
			if err != nil {
				t.Fatal(err)
			}
			ring := token.NewRing(nil)
			ring.Add(rk)
			var parsed token.Token
			if err := token.NewVerifier(ring, token.VerifierOptions{Issuer: "x"}).Verify([]byte(tok), &parsed); err != nil {
				t.Fatalf("the origin's token on the receiver: %v", err)
			}
		})
	}
}

// keyOfState refuses payloads that do not hold together: a JWK of another
// kid or algorithm, an HS256 secret that does not derive its kid, one
// sealed under another JWT_SECRET_KEY or moved to another kid.
func TestKeyStateForgeries(t *testing.T) {
	ed, es, hs := genKey(t, token.AlgEdDSA), genKey(t, token.AlgES256), genKey(t, token.AlgHS256)
	edState, _ := published(t, ed, revocation.KeyActive, 0)
	esState, _ := published(t, es, revocation.KeyActive, 0)
	hsState, _ := published(t, hs, revocation.KeyActive, 0)
	underived, err := token.NewHMACKey("hs-0000000000000000", []byte("some other secret of 32 bytes!!!"))
	if err != nil {
		t.Fatal(err)
	}
	underivedState, err := keyStateOf(underived, revocation.KeyActive, 0, testWrap)
	if err != nil {
		t.Fatal(err)
	}
	mod := func(s *revocation.KeyState, f func(*revocation.KeyState)) *revocation.KeyState {
		c := *s
		f(&c)
		return &c
	}
	cases := []struct {
		name string
		st   *revocation.KeyState
		wrap string
	}{
		{"jwk of another kid", mod(edState, func(s *revocation.KeyState) { s.Kid = "ed-other" }), testWrap},
		{"jwk of another alg", mod(edState, func(s *revocation.KeyState) { s.Alg = revocation.KeyAlgES256 }), testWrap},
		{"another key's jwk", mod(edState, func(s *revocation.KeyState) { s.JWK = esState.JWK }), testWrap},
		{"jwk without its public key", mod(edState, func(s *revocation.KeyState) {
			s.JWK = json.RawMessage(`{"kty":"OKP","crv":"Ed25519","kid":"` + ed.ID + `","alg":"EdDSA"}`)
		}), testWrap},
		{"hs secret not deriving its kid", underivedState, testWrap},
		{"hs sealed under another JWT_SECRET_KEY", hsState, "another-jwt-secret-of-32-bytes!!!"},
		{"hs sealed secret moved to another kid", mod(hsState, func(s *revocation.KeyState) { s.Kid = SecretKeyID("x") }), testWrap},
		{"hs sealed secret tampered", mod(hsState, func(s *revocation.KeyState) {
			s.Sealed = append([]byte(nil), s.Sealed...)
			s.Sealed[len(s.Sealed)-1] ^= 1
		}), testWrap},
		{"hs without JWT_SECRET_KEY", hsState, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if k, err := keyOfState(c.st, c.wrap); !errors.Is(err, ErrForeignKey) {
				t.Fatalf("keyOfState = %v, %v; want ErrForeignKey", k, err)
			}
		})
	}
}

// Merge: a new key joins the ring verify-only; other material under a
// known kid, a revoked kid and keys beyond MaxForeignKeys are refused; an
// older state is ignored; a retired state makes the key drop after its
// verify_until; an own key shared with another node (HS256 from
// JWT_SECRET_KEY) stays while that node may sign with it.
func TestKeysMerge(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	own := genKey(t, token.AlgEdDSA)
	ks := &Keys{Ring: token.NewRing(own), Foreign: map[string]*ForeignKey{}, Published: map[string]PublishedState{}}
	a1 := genKey(t, token.AlgEdDSA)
	st, k := published(t, a1, revocation.KeyActive, 0)
	if ok, err := ks.Merge("a", 10, st, k, now); !ok || err != nil {
		t.Fatalf("Merge(new) = %v, %v", ok, err)
	}
	if got, ok := ks.Ring.Lookup(a1.ID); !ok || !got.VerifyOnly() {
		t.Fatal("a received key is not in the ring, verify-only")
	}
	if cur := ks.Ring.Current(); cur.ID != own.ID {
		t.Fatalf("current key %s, want this node's %s", cur.ID, own.ID)
	}
	if pub := ks.toPublish(); len(pub) != 1 || pub[own.ID].State != revocation.KeyActive {
		t.Fatalf("toPublish = %v, want only this node's key, active", pub)
	}

	// Another key under a known kid: refused, the held one kept.
	impostor, err := token.GenerateKey(token.AlgEdDSA, a1.ID, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ist, ik := published(t, impostor, revocation.KeyActive, 0)
	if _, err := ks.Merge("evil", 11, ist, ik, now); !errors.Is(err, ErrKeyConflict) {
		t.Fatalf("Merge(conflict) = %v, want ErrKeyConflict", err)
	}
	forgedOwn, _ := token.GenerateKey(token.AlgEdDSA, own.ID, rand.Reader)
	fst, fk := published(t, forgedOwn, revocation.KeyActive, 0)
	if _, err := ks.Merge("evil", 11, fst, fk, now); !errors.Is(err, ErrKeyConflict) {
		t.Fatalf("Merge(this node's kid, other material) = %v, want ErrKeyConflict", err)
	}

	// Retired: dropped after verify_until; an older active state is ignored.
	until := now.Add(time.Hour).UnixMilli()
	rst, rk := published(t, a1, revocation.KeyRetired, until)
	if ok, err := ks.Merge("a", 20, rst, rk, now); !ok || err != nil {
		t.Fatalf("Merge(retired) = %v, %v", ok, err)
	}
	if ok, _ := ks.Merge("a", 15, st, k, now); ok {
		t.Fatal("an older active state was applied over a newer retired one")
	}
	if r, _ := ks.Ring.RetireAfter(a1.ID); r.UnixMilli() != until {
		t.Fatalf("retire after %v, want %v", r, time.UnixMilli(until))
	}
	ks.Ring.DropRetired(time.UnixMilli(until + 1))
	ks.forget()
	if _, ok := ks.Ring.Lookup(a1.ID); ok || ks.Foreign[a1.ID] != nil {
		t.Fatal("a retired key of another node outlived its verify_until")
	}

	// Revoked: never back.
	a2 := genKey(t, token.AlgES256)
	ks.Ring.Revoke(a2.ID)
	st2, k2 := published(t, a2, revocation.KeyActive, 0)
	if _, err := ks.Merge("a", 30, st2, k2, now); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("Merge(revoked) = %v, want ErrKeyRevoked", err)
	}
	if _, ok := ks.Ring.Lookup(a2.ID); ok {
		t.Fatal("a revoked kid came back")
	}

	// Expired already: ignored.
	a3 := genKey(t, token.AlgEdDSA)
	st3, k3 := published(t, a3, revocation.KeyRetired, now.Add(-time.Second).UnixMilli())
	if ok, err := ks.Merge("a", 31, st3, k3, now); ok || err != nil {
		t.Fatalf("Merge(expired) = %v, %v; want ignored", ok, err)
	}

	// Bounded.
	for i := ks.foreignOnly(); i < MaxForeignKeys; i++ {
		k, err := token.NewHMACKey(fmt.Sprintf("fill-%d", i), []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		ks.Foreign[k.ID] = &ForeignKey{Key: k, Origins: map[string]OriginState{}}
	}
	a4 := genKey(t, token.AlgEdDSA)
	st4, k4 := published(t, a4, revocation.KeyActive, 0)
	if _, err := ks.Merge("a", 40, st4, k4, now); !errors.Is(err, ErrTooManyKeys) {
		t.Fatalf("Merge(beyond the bound) = %v, want ErrTooManyKeys", err)
	}
}

// An HS256 key every node derives from JWT_SECRET_KEY: when this node
// rotates away from it, it keeps verifying it while another node still
// signs with it, and publishes it as retired all the same.
func TestKeysMergeSharedOwnKey(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	shared, err := token.NewHMACKey(SecretKeyID(testWrap), []byte(testWrap))
	if err != nil {
		t.Fatal(err)
	}
	ks := &Keys{Ring: token.NewRing(shared), Foreign: map[string]*ForeignKey{}, Published: map[string]PublishedState{}}
	st, k := published(t, shared, revocation.KeyActive, 0)
	if ok, err := ks.Merge("b", 10, st, k, now); !ok || err != nil {
		t.Fatalf("Merge(shared) = %v, %v", ok, err)
	}
	a := &issuerActor{cfg: Config{Ring: ks.Ring, Now: func() time.Time { return now }, AccessTTL: time.Minute, RefreshTTL: time.Hour}, keys: ks}
	a.rotateTo(genKey(t, token.AlgHS256))
	if r, ok := ks.Ring.RetireAfter(shared.ID); !ok || !r.IsZero() {
		t.Fatalf("shared key retire after %v (held %v), want kept while b may sign with it", r, ok)
	}
	pub := ks.toPublish()
	if p := pub[shared.ID]; p.State != revocation.KeyRetired || p.VerifyUntil != now.Add(time.Hour).UnixMilli() {
		t.Fatalf("published %+v for the shared key, want retired until this node's last token", p)
	}
}

// Keys of other nodes survive a restart verify-only (an HS256 one too,
// whose secret is stored, never as this node's key), are not published as
// this node's, and those learned in --dev are revoked outside it.
func TestLoadKeysRestoresForeignKeys(t *testing.T) {
	now := time.Now()
	for _, dev := range []bool{true, false} {
		t.Run(fmt.Sprintf("learned in --dev, loaded with dev=%v", dev), func(t *testing.T) {
			st := openStore(t)
			own := genKey(t, token.AlgEdDSA)
			ks := &Keys{Ring: token.NewRing(own), Foreign: map[string]*ForeignKey{}, Published: map[string]PublishedState{}}
			var toks []string
			for _, alg := range []token.Algorithm{token.AlgMLDSA65, token.AlgHS256} {
				k := genKey(t, alg)
				s, rk := published(t, k, revocation.KeyActive, 0)
				if ok, err := ks.Merge("a", 1, s, rk, now); !ok || err != nil {
					t.Fatalf("Merge(%s) = %v, %v", alg, ok, err)
				}
				toks = append(toks, mint(t, token.NewRing(k)))
			}
			blob, err := ks.Encode(true)
			if err != nil {
				t.Fatal(err)
			}
			putKV(t, st, blob)
			got, err := LoadKeys(context.Background(), st, RingOptions{Algorithm: token.AlgEdDSA, Dev: dev, Now: time.Now,
				MaxLifetime: time.Hour, DevSecret: testDevSecret})
			if err != nil {
				t.Fatal(err)
			}
			for i, tok := range toks {
				err := verify(got.Ring, tok)
				if dev && err != nil {
					t.Errorf("token %d of another node after a restart: %v", i, err)
				}
				if !dev && err == nil {
					t.Errorf("token %d of another node's key learned in --dev verifies outside --dev", i)
				}
			}
			if cur := got.Ring.Current(); dev && (cur == nil || cur.ID != own.ID) {
				t.Fatalf("current key %v, want this node's %s", cur, own.ID)
			}
			if pub := got.toPublish(); len(pub) > 1 {
				t.Fatalf("toPublish after restart = %v: another node's key published as this node's", pub)
			}
		})
	}
}
