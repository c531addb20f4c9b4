package token

import (
	"encoding/json"
	"errors"
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
	if _, _, err := (&Issuer{Ring: r}).Issue(Spec{Subject: "x", JTI: "j", TTL: time.Minute}); err == nil {
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

// TestRingConcurrent runs lock-free readers against a writer that rotates,
// retires, revokes and sets the legacy key, and checks what every reader
// observes, so that it fails on an inconsistent snapshot with or without
// -race: a key that is added and never retired always verifies its token;
// a token the ring's current key just signed verifies with that key unless
// the key was dropped (ErrUnknownKey) or revoked (ErrKeyRevoked) since;
// Keys never lists a kid revoked before the call, and is sorted; revoking
// the legacy key is permanent for every reader. Readers and the writer do a
// fixed amount of work, and the final state is checked exactly.
func TestRingConcurrent(t *testing.T) {
	f := newFixture(t, VerifierOptions{})
	fixed := []byte(f.issue(t, AlgEdDSA, Spec{})) // kid-EdDSA: added, never current, never retired
	legacy := mustKey(t, AlgHS256, "legacy", 42)
	f.ring.SetLegacy(legacy)
	seed := []byte(seedToken(t, legacy, t0.Add(time.Hour)))
	const readers, reads, rotations = 4, 300, 200

	reader := func(id int) error {
		is := &Issuer{Ring: f.ring, Issuer: "revocd", Now: f.clk.Now}
		var tk Token
		legacyRevoked := false
		for i := range reads {
			if f.ring.Current() == nil {
				return fmt.Errorf("read %d: no current key (the writer never revokes the current key)", i)
			}
			tk.Reset()
			if err := f.ver.Verify(fixed, &tk); err != nil || tk.Key == nil || tk.Key.ID != "kid-EdDSA" {
				return fmt.Errorf("read %d: token of the never-retired kid-EdDSA: %v (key %v)", i, err, tk.Key)
			}
			tok, c, err := is.Issue(Spec{Subject: "r", JTI: fmt.Sprint("r", id, "-", i), TTL: time.Minute})
			if err != nil {
				return fmt.Errorf("read %d: Issue: %v", i, err)
			}
			tk.Reset()
			err = f.ver.Verify([]byte(tok), &tk)
			_, present := f.ring.Lookup(c.KeyID)
			switch {
			case err == nil && tk.Key != nil && tk.Key.ID == c.KeyID:
			case errors.Is(err, ErrKeyRevoked) && f.ring.IsRevoked(c.KeyID):
			case errors.Is(err, ErrUnknownKey) && !present:
			default:
				return fmt.Errorf("read %d: token just signed by %s: %v (key %v, still in ring %v)", i, c.KeyID, err, tk.Key, present)
			}
			revoked := f.ring.RevokedKeyIDs()
			keys := f.ring.Keys()
			for j, k := range keys {
				if slices.Contains(revoked, k.ID) {
					return fmt.Errorf("read %d: Keys lists %s, revoked before the call", i, k.ID)
				}
				if j > 0 && keys[j-1].CreatedAt.After(k.CreatedAt) {
					return fmt.Errorf("read %d: Keys not sorted by CreatedAt: %v", i, kids(keys))
				}
			}
			before := f.ring.IsRevoked("legacy")
			tk.Reset()
			err = f.ver.Verify(seed, &tk)
			switch {
			case errors.Is(err, ErrKeyRevoked):
				legacyRevoked = true
			case err != nil:
				return fmt.Errorf("read %d: seed token: %v", i, err)
			case before || legacyRevoked:
				return fmt.Errorf("read %d: seed token valid after its legacy key was revoked", i)
			}
		}
		return nil
	}

	errs := make(chan error, readers)
	var wg sync.WaitGroup
	for id := range readers {
		wg.Go(func() { errs <- reader(id) })
	}
	var wantRevoked []string
	for i := range rotations {
		k := mustKey(t, AlgHS256, fmt.Sprint("rot-", i), uint64(100+i))
		k.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		f.ring.Rotate(k, t0.Add(time.Duration(i+1)*time.Second))
		f.ring.DropRetired(t0.Add(time.Duration(i) * time.Second))
		if i%10 == 9 {
			f.ring.Revoke(fmt.Sprint("rot-", i-1))
			wantRevoked = append(wantRevoked, fmt.Sprint("rot-", i-1))
		}
		if i == rotations/2 {
			f.ring.Revoke("legacy")
			wantRevoked = append(wantRevoked, "legacy")
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}

	if c := f.ring.Current(); c == nil || c.ID != fmt.Sprint("rot-", rotations-1) {
		t.Fatalf("current key %v, want rot-%d", c, rotations-1)
	}
	slices.Sort(wantRevoked)
	if got := f.ring.RevokedKeyIDs(); !slices.Equal(got, wantRevoked) {
		t.Errorf("RevokedKeyIDs = %v, want %v", got, wantRevoked)
	}
	got := kids(f.ring.Keys())
	slices.Sort(got)
	// Rotation i retires the previous key until t0+(i+1)s and drops those
	// retired before t0+is: rot-197 (retired until t0+199s) is kept,
	// rot-198 was revoked at i = 199, older rot keys and kid-HS256 (the
	// first current key) were dropped.
	if want := []string{"kid-ES256", "kid-EdDSA", "kid-ML-DSA-65", "rot-197", "rot-199"}; !slices.Equal(got, want) {
		t.Errorf("Keys = %v, want %v", got, want)
	}
	var tk Token
	if err := f.ver.Verify(seed, &tk); !errors.Is(err, ErrKeyRevoked) {
		t.Errorf("seed token after revoking the legacy key: %v, want ErrKeyRevoked", err)
	}
}
