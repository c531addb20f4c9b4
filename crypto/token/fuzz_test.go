package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fuzzSeeds returns real tokens of every algorithm plus some edge cases.
func fuzzSeeds(f *fixture, tb testing.TB) []string {
	k := f.keys[AlgHS256]
	seeds := []string{
		"", ".", "..", "a.b.c", "e30.e30.", "e30.e30.AA", "eyJhbGciOiJub25lIn0.e30.",
		rawToken(tb, k, hdrFor(k), claimsJSON(`,"aud":["x"],"nbf":1.5,"x":{"y":[1,"\u00e9",null]}`)),
		rawToken(tb, k, `{"alg":"HS\u0032\u0035\u0036","kid":"kid-HS256"}`, `{"sub":"\ud83d\ude00\n","exp":1772367300}`),
	}
	for _, alg := range allAlgs {
		seeds = append(seeds, f.issue(tb, alg, Spec{Type: TypeRefresh, Extra: map[string]any{"scope": "a"}}))
	}
	return seeds
}

func FuzzParseUnverified(f *testing.F) {
	fx := newFixture(f, VerifierOptions{})
	for _, s := range fuzzSeeds(fx, f) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, tok []byte) {
		var tk Token
		err := fx.ver.ParseUnverified(tok, &tk)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		// Differential check against encoding/json (accepted => it agrees).
		if !json.Valid(tk.Header) || !json.Valid(tk.Payload) {
			t.Fatalf("accepted invalid JSON: %q %q", tk.Header, tk.Payload)
		}
		var hdr map[string]any
		var claims map[string]any
		d := json.NewDecoder(strings.NewReader(string(tk.Payload)))
		d.UseNumber()
		if json.Unmarshal(tk.Header, &hdr) != nil || d.Decode(&claims) != nil {
			t.Fatalf("encoding/json rejects accepted token: %q %q", tk.Header, tk.Payload)
		}
		for name, got := range map[string][]byte{"alg": tk.Alg, "kid": tk.Kid, "typ": tk.HeaderTyp} {
			checkString(t, "header "+name, hdr[name], got)
		}
		for name, got := range map[string][]byte{"sub": tk.Sub, "jti": tk.JTI, "iss": tk.Iss, "typ": tk.Typ} {
			checkString(t, "claim "+name, claims[name], got)
		}
		for name, c := range map[string]struct {
			v   int64
			has bool
			up  bool
		}{"iat": {tk.Iat, tk.HasIat, false}, "exp": {tk.Exp, tk.HasExp, false}, "nbf": {tk.Nbf, tk.HasNbf, true}} {
			raw, ok := claims[name]
			if ok != c.has {
				t.Fatalf("%s presence: %v vs %v", name, ok, c.has)
			}
			if !ok {
				continue
			}
			fv, err := raw.(json.Number).Float64()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			want := math.Floor(fv)
			if c.up {
				want = math.Ceil(fv)
			}
			if float64(c.v) != want {
				t.Fatalf("%s = %d, encoding/json says %v", name, c.v, fv)
			}
		}
	})
}

func checkString(t *testing.T, what string, want any, got []byte) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("%s: got %q, absent for encoding/json", what, got)
		}
		return
	}
	if s, ok := want.(string); !ok || s != string(got) {
		t.Fatalf("%s: got %q, encoding/json says %#v", what, got, want)
	}
}

// FuzzVerify feeds arbitrary tokens, and arbitrary header/payload JSON
// signed with the ring's HS256 key, its legacy key (kid-less tokens) and a
// revoked key, to Verify. It must never panic; a token it accepts must also
// be accepted by golang-jwt's jwt.Parse; and whenever it sets Token.Key
// (the token is authentic, which lets callers report revocation state) the
// signature must really verify with that key.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f, VerifierOptions{Issuer: "revocd", Leeway: time.Second, CacheSize: 8})
	k := fx.keys[AlgHS256]
	legacy, revoked := mustKey(f, AlgHS256, "legacy", 77), mustKey(f, AlgHS256, "revoked", 78)
	fx.ring.SetLegacy(legacy)
	fx.ring.Add(revoked)
	fx.ring.Revoke(revoked.ID)
	for _, s := range fuzzSeeds(fx, f) {
		f.Add([]byte(s), hdrFor(k), claimsJSON(""))
	}
	f.Add([]byte("x"), `{"alg":"HS256"}`, `{"exp":1772367300,"iss":"revocd","aud":"a"}`)
	f.Add([]byte("x"), `{"alg":"none","kid":"kid-HS256"}`, `{"exp":1772367300.5,"iss":"revocd"}`)
	keyFunc := func(tk *jwt.Token) (any, error) {
		var key *Key
		if kid, ok := tk.Header["kid"].(string); ok {
			key, _ = fx.ring.Lookup(kid)
		} else if _, present := tk.Header["kid"]; !present {
			key = fx.ring.Legacy()
		}
		if key == nil || key.m.alg.method().Alg() != tk.Method.Alg() {
			return nil, errors.New("no key")
		}
		return key.m.verifyKey, nil
	}
	parser := jwt.NewParser(jwt.WithIssuer("revocd"), jwt.WithLeeway(time.Second),
		jwt.WithTimeFunc(fx.clk.Now), jwt.WithExpirationRequired())
	sigOnly := jwt.NewParser(jwt.WithoutClaimsValidation())
	f.Fuzz(func(t *testing.T, tok []byte, header, payload string) {
		var tk Token
		inputs := [][]byte{tok}
		for _, key := range []*Key{k, legacy, revoked} {
			inputs = append(inputs, []byte(rawToken(t, key, header, payload)))
		}
		for _, in := range inputs {
			tk.Reset()
			err := fx.ver.Verify(in, &tk)
			if tk.Key != nil {
				_, serr := sigOnly.Parse(string(in), func(*jwt.Token) (any, error) { return tk.Key.m.verifyKey, nil })
				if errors.Is(serr, jwt.ErrTokenSignatureInvalid) || errors.Is(serr, jwt.ErrTokenUnverifiable) {
					t.Fatalf("Key set for a token whose signature does not verify (%v): %q", serr, in)
				}
			}
			if (tk.Key == revoked) != errors.Is(err, ErrKeyRevoked) {
				t.Fatalf("key %v, err %v: a revoked key's authentic token must be (only) ErrKeyRevoked", tk.Key, err)
			}
			if err != nil {
				if Message(err) == "Invalid token" {
					t.Fatalf("error without sentinel: %v", err)
				}
				continue
			}
			if tk.Key == nil {
				t.Fatal("accepted without a key")
			}
			jt, err := parser.Parse(string(in), keyFunc)
			if err != nil || !jt.Valid {
				t.Fatalf("accepted %q, golang-jwt rejects: %v", in, err)
			}
			if sub, _ := jt.Claims.GetSubject(); sub != string(tk.Sub) {
				t.Fatalf("sub %q vs golang-jwt %q", tk.Sub, sub)
			}
		}
	})
}

// FuzzDecodeB64 checks decodeB64 against encoding/base64's strict unpadded
// URL decoder (which, unlike a token parser should, skips CR/LF).
func FuzzDecodeB64(f *testing.F) {
	for _, s := range []string{"", "A", "AA", "AB", "AAA", "AAB", "AAAA", "-_-_", "a=", "YQ", "YWI", "YWJj", "\nYQ", "+/"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		dst := make([]byte, len(src)*3/4)
		n, ok := decodeB64(dst, src)
		want, err := base64.RawURLEncoding.Strict().DecodeString(string(src))
		wantOK := err == nil && !bytes.ContainsAny(src, "\r\n")
		if ok != wantOK || ok && !bytes.Equal(dst[:n], want) {
			t.Fatalf("decodeB64(%q) = %q, %v; encoding/base64: %q, %v", src, dst[:n], ok, want, err)
		}
	})
}
