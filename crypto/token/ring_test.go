package token

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func kids(keys []*Key) []string {
	var s []string
	for _, k := range keys {
		s = append(s, k.ID)
	}
	return s
}

func TestRingLifecycle(t *testing.T) {
	a, b, c := mustKey(t, AlgHS256, "a", 1), mustKey(t, AlgEdDSA, "b", 2), mustKey(t, AlgES256, "c", 3)
	a.CreatedAt, b.CreatedAt, c.CreatedAt = t0, t0.Add(time.Hour), t0.Add(2*time.Hour)
	r := NewRing(a)
	if r.Current() != a {
		t.Fatal("current")
	}
	r.Add(b)
	if r.Current() != a {
		t.Fatal("Add changed the current key")
	}
	if k, ok := r.Lookup("b"); !ok || k != b {
		t.Fatal("Lookup b")
	}
	r.Rotate(c, t0.Add(time.Hour))
	if r.Current() != c {
		t.Fatal("Rotate")
	}
	if got := kids(r.Keys()); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("Keys = %v", got)
	}
	if got := r.DropRetired(t0.Add(time.Hour)); got != nil {
		t.Fatalf("dropped at retireAfter itself: %v", got)
	}
	if got := r.DropRetired(t0.Add(time.Hour + time.Second)); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("DropRetired = %v", got)
	}
	if _, ok := r.Lookup("a"); ok {
		t.Fatal("retired key still present")
	}
	r.Remove("b")
	if _, ok := r.Lookup("b"); ok {
		t.Fatal("Remove")
	}
	r.Remove("c")
	if r.Current() != nil || len(r.Keys()) != 0 {
		t.Fatal("removing the current key must leave no current key")
	}
	if _, _, err := (&Issuer{Ring: r}).Issue(Spec{Subject: "x", TTL: time.Minute}); err == nil {
		t.Fatal("Issue without current key")
	}
	// Add over the current key's kid replaces the current key too.
	r2 := NewRing(a)
	a2 := mustKey(t, AlgHS256, "a", 9)
	r2.Add(a2)
	if r2.Current() != a2 {
		t.Fatal("Add with the current kid must replace current")
	}
	// Rotating to the same key does not retire it.
	r2.Rotate(a2, t0)
	if r2.DropRetired(t0.Add(time.Hour)) != nil || r2.Current() != a2 {
		t.Fatal("self-rotation retired the current key")
	}
	if NewRing(nil).Current() != nil {
		t.Fatal("NewRing(nil)")
	}
}

func TestRingJWKS(t *testing.T) {
	f := newFixture(t, VerifierOptions{})
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(f.ring.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range doc.Keys {
		got = append(got, k["kid"].(string))
		if k["use"] != "sig" {
			t.Fatalf("use: %v", k)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"kid-ES256", "kid-EdDSA", "kid-ML-DSA-65"}) {
		t.Fatalf("JWKS kids = %v (HMAC must not be published)", got)
	}
	if string(NewRing(nil).JWKS()) != `{"keys":[]}` {
		t.Fatalf("empty JWKS = %s", NewRing(nil).JWKS())
	}
	j := f.ring.JWKS()
	j[0] = 'X' // callers get a copy
	if f.ring.JWKS()[0] != '{' {
		t.Fatal("JWKS returned shared bytes")
	}
}

// TestRingConcurrent runs lock-free readers against writers (run with -race).
func TestRingConcurrent(t *testing.T) {
	f := newFixture(t, VerifierOptions{})
	tok := []byte(f.issue(t, AlgHS256, Spec{}))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			var tk Token
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = f.ver.Verify(tok, &tk)
				_ = f.ring.Current()
				_, _ = f.ring.Lookup("kid-EdDSA")
				_ = f.ring.Keys()
				_ = f.ring.JWKS()
			}
		})
	}
	legacy := mustKey(t, AlgHS256, "legacy", 42)
	seed := []byte(seedToken(t, legacy, t0.Add(time.Hour)))
	wg.Go(func() {
		var tk Token
		for {
			select {
			case <-stop:
				return
			default:
			}
			tk.Reset()
			_ = f.ver.Verify(seed, &tk)
			_ = f.ring.Legacy()
			_ = f.ring.IsRevoked("legacy")
		}
	})
	for i := range 200 {
		k := mustKey(t, AlgHS256, fmt.Sprint("rot-", i), uint64(i))
		f.ring.Rotate(k, t0.Add(time.Duration(i)*time.Second))
		f.ring.Add(f.keys[AlgHS256])
		f.ring.DropRetired(t0.Add(time.Duration(i) * time.Second))
		f.ring.SetLegacy(legacy)
		f.ring.Revoke(k.ID)
		if i%50 == 49 {
			f.ring.Revoke("legacy")
			_ = f.ring.RevokedKeyIDs()
		}
	}
	close(stop)
	wg.Wait()
}
