package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var enc = base64.RawURLEncoding

// rawToken signs header.payload (given as JSON text) with k; k nil leaves
// the signature empty.
func rawToken(tb testing.TB, k *Key, header, payload string) string {
	tb.Helper()
	si := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	if k == nil {
		return si + "."
	}
	sig, err := k.m.method.Sign(si, k.m.signKey)
	if err != nil {
		tb.Fatal(err)
	}
	return si + "." + enc.EncodeToString(sig)
}

func hdrFor(k *Key) string {
	return fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":"JWT"}`, k.m.alg, k.ID)
}

// claimsJSON is a valid payload at t0 (+ extra members, starting with ',').
func claimsJSON(extra string) string {
	return fmt.Sprintf(`{"sub":"alice","iat":%d,"exp":%d,"iss":"revocd","jti":"j1"%s}`, t0.Unix(), t0.Unix()+900, extra)
}

func verifyErr(f *fixture, tok string) (Token, error) {
	var tk Token
	err := f.ver.Verify([]byte(tok), &tk)
	return tk, err
}

func TestVerifyRoundTrip(t *testing.T) {
	for _, cache := range []int{0, 64} {
		f := newFixture(t, VerifierOptions{Issuer: "revocd", CacheSize: cache})
		for _, alg := range allAlgs {
			for _, typ := range []string{TypeAccess, TypeRefresh} {
				name := fmt.Sprintf("%s/%s/cache=%d", alg, typ, cache)
				tok := f.issue(t, alg, Spec{Subject: "bob", Type: typ, Extra: map[string]any{"role": "admin"}})
				for range 2 { // second pass hits the cache when enabled
					tk, err := verifyErr(f, tok)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if tk.Subject() != "bob" || tk.Issuer() != "revocd" || tk.KeyID() != "kid-"+string(alg) ||
						tk.Algorithm() != alg || tk.Key != f.keys[alg] || tk.IsRefresh() != (typ == TypeRefresh) ||
						!tk.ExpiresAt().Equal(t0.Add(15*time.Minute)) || !tk.IssuedAt().Equal(t0) || tk.HasNbf {
						t.Fatalf("%s: claims %+v", name, tk.Claims())
					}
					var m map[string]any
					if err := json.Unmarshal(tk.Payload, &m); err != nil || m["role"] != "admin" || m["jti"] != tk.ID() {
						t.Fatalf("%s: payload %s: %v", name, tk.Payload, err)
					}
				}
			}
		}
	}
}

// TestGolden cross-checks with golang-jwt's independent jwt.Parse path in
// both directions.
func TestGolden(t *testing.T) {
	f := newFixture(t, VerifierOptions{Issuer: "revocd"})
	for _, alg := range allAlgs {
		k := f.keys[alg]
		keyFunc := func(tk *jwt.Token) (any, error) {
			if tk.Header["kid"] != k.ID {
				return nil, errors.New("kid")
			}
			return k.m.verifyKey, nil
		}
		opts := []jwt.ParserOption{jwt.WithValidMethods([]string{string(alg)}), jwt.WithIssuer("revocd"),
			jwt.WithTimeFunc(f.clk.Now), jwt.WithExpirationRequired(), jwt.WithStrictDecoding()}

		// Ours -> golang-jwt.
		tok := f.issue(t, alg, Spec{Subject: "carol", Extra: map[string]any{"n": 1.5}})
		parsed, err := jwt.Parse(tok, keyFunc, opts...)
		if err != nil || !parsed.Valid {
			t.Fatalf("%s: golang-jwt rejects our token: %v", alg, err)
		}
		if sub, _ := parsed.Claims.GetSubject(); sub != "carol" || parsed.Header["typ"] != "JWT" {
			t.Fatalf("%s: golang-jwt claims %v", alg, parsed.Claims)
		}
		f.clk.t = t0.Add(time.Hour)
		if _, err := jwt.Parse(tok, keyFunc, opts...); !errors.Is(err, jwt.ErrTokenExpired) {
			t.Fatalf("%s: golang-jwt accepted an expired token: %v", alg, err)
		}
		f.clk.t = t0

		// golang-jwt -> ours (MapClaims with a float exp, RegisteredClaims).
		for i, claims := range []jwt.Claims{
			jwt.MapClaims{"sub": "dave", "iss": "revocd", "exp": float64(t0.Unix()) + 60.75, "nbf": t0.Unix() - 10, "x": []int{1}},
			jwt.RegisteredClaims{Subject: "dave", Issuer: "revocd", ID: "id-1",
				ExpiresAt: jwt.NewNumericDate(t0.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(t0)},
		} {
			jt := jwt.NewWithClaims(alg.method(), claims)
			jt.Header["kid"] = k.ID
			s, err := jt.SignedString(k.m.signKey)
			if err != nil {
				t.Fatal(err)
			}
			tk, err := verifyErr(f, s)
			if err != nil {
				t.Fatalf("%s/%d: our verifier rejects golang-jwt's token: %v", alg, i, err)
			}
			if tk.Subject() != "dave" || tk.Exp != t0.Unix()+60 {
				t.Fatalf("%s/%d: claims %+v", alg, i, tk.Claims())
			}
			// And a golang-jwt token signed by a key outside the ring fails.
			other := mustKey(t, alg, k.ID, 1234)
			s2, _ := jt.SignedString(other.m.signKey)
			if _, err := verifyErr(f, s2); !errors.Is(err, ErrSignature) {
				t.Fatalf("%s/%d: foreign key: %v", alg, i, err)
			}
		}
	}
}

// TestHMACPathsAgree checks the pooled HMAC against jwt.SigningMethodHS256.
func TestHMACPathsAgree(t *testing.T) {
	f := newFixture(t, VerifierOptions{})
	jv := NewVerifier(f.ring, f.opts)
	jv.jwtHMAC = true
	good := f.issue(t, AlgHS256, Spec{})
	bad := good[:len(good)-2] + "AA"
	for _, tok := range []string{good, bad, good[:len(good)-4]} {
		var a, b Token
		ea, eb := f.ver.Verify([]byte(tok), &a), jv.Verify([]byte(tok), &b)
		if (ea == nil) != (eb == nil) || (ea != nil && Message(ea) != Message(eb)) {
			t.Fatalf("pooled %v vs golang-jwt %v", ea, eb)
		}
	}
}

func TestAlgorithmConfusion(t *testing.T) {
	f := newFixture(t, VerifierOptions{CacheSize: 16})
	hs := f.keys[AlgHS256]
	payload := claimsJSON("")
	pubSecrets := map[string][]byte{
		"ed25519-pub":   f.keys[AlgEdDSA].m.pub,
		"p256-point":    f.keys[AlgES256].m.pub,
		"p256-x":        f.keys[AlgES256].m.pub[1:33],
		"mldsa-pub":     f.keys[AlgMLDSA65].m.pub,
		"jwks-document": f.ring.JWKS(),
	}
	for name, secret := range pubSecrets {
		fake, err := NewHMACKey("fake", secret)
		if err != nil {
			t.Fatal(err)
		}
		for _, target := range allAlgs[1:] {
			kid := f.keys[target].ID
			tok := rawToken(t, fake, fmt.Sprintf(`{"alg":"HS256","kid":%q}`, kid), payload)
			if _, err := verifyErr(f, tok); !errors.Is(err, ErrAlgorithm) {
				t.Errorf("HS256 signed with %s, kid %s: %v", name, kid, err)
			}
		}
		// No kid: the current (HS256) key is used and the MAC does not match.
		if _, err := verifyErr(f, rawToken(t, fake, `{"alg":"HS256"}`, payload)); !errors.Is(err, ErrSignature) {
			t.Errorf("HS256 signed with %s, no kid: %v", name, err)
		}
	}
	// A ring whose current key is asymmetric: kid-less HS256 token -> alg mismatch.
	edRing := NewVerifier(NewRing(f.keys[AlgEdDSA]), f.opts)
	fake, _ := NewHMACKey("fake", f.keys[AlgEdDSA].m.pub)
	var tk Token
	if err := edRing.Verify([]byte(rawToken(t, fake, `{"alg":"HS256"}`, payload)), &tk); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("kid-less HS256 against EdDSA current key: %v", err)
	}
	if err := edRing.Verify([]byte(rawToken(t, f.keys[AlgEdDSA], `{"alg":"EdDSA"}`, payload)), &tk); err != nil {
		t.Errorf("kid-less EdDSA token with EdDSA current key: %v", err)
	}
	if err := NewVerifier(NewRing(nil), f.opts).Verify([]byte(rawToken(t, hs, `{"alg":"HS256"}`, payload)), &tk); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("kid-less token, no current key: %v", err)
	}

	// alg swapped between key types: the signature is genuine, the header lies.
	for _, signer := range allAlgs {
		for _, claimed := range allAlgs {
			if signer == claimed {
				continue
			}
			k := f.keys[signer]
			tok := rawToken(t, k, fmt.Sprintf(`{"alg":%q,"kid":%q}`, claimed, k.ID), payload)
			if _, err := verifyErr(f, tok); !errors.Is(err, ErrAlgorithm) {
				t.Errorf("signed %s, header alg %s: %v", signer, claimed, err)
			}
		}
	}
	// Case-variants and "none".
	for _, alg := range []string{"none", "None", "NONE", "nOnE", "hs256", "HS512", "RS256", "ML-DSA-44", "", "EdDSA "} {
		for _, sig := range []bool{false, true} {
			signer := hs
			if !sig {
				signer = nil
			}
			tok := rawToken(t, signer, fmt.Sprintf(`{"alg":%q,"kid":%q}`, alg, hs.ID), payload)
			if _, err := verifyErr(f, tok); !errors.Is(err, ErrAlgorithm) {
				t.Errorf("alg %q (signed=%v): %v", alg, sig, err)
			}
		}
	}
	if _, err := verifyErr(f, rawToken(t, hs, `{"kid":"kid-HS256"}`, payload)); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("missing alg: %v", err)
	}
	if _, err := verifyErr(f, rawToken(t, hs, `{"alg":null,"kid":"kid-HS256"}`, payload)); !errors.Is(err, ErrMalformed) {
		t.Errorf("null alg: %v", err)
	}

	// Unknown and revoked kids (also after the token was cached).
	if _, err := verifyErr(f, rawToken(t, hs, `{"alg":"HS256","kid":"nope"}`, payload)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown kid: %v", err)
	}
	for _, alg := range []Algorithm{AlgHS256, AlgEdDSA} {
		tok := f.issue(t, alg, Spec{})
		if _, err := verifyErr(f, tok); err != nil {
			t.Fatal(err)
		}
		f.ring.Revoke(f.keys[alg].ID)
		if tk, err := verifyErr(f, tok); !errors.Is(err, ErrKeyRevoked) || tk.Key != f.keys[alg] {
			t.Errorf("%s: revoked kid: %v (key %v)", alg, err, tk.Key)
		}
		// A token forged under the revoked kid (other material) is not
		// authentic: ErrSignature, never ErrKeyRevoked.
		other := mustKey(t, alg, f.keys[alg].ID, 777)
		forged := rawToken(t, other, hdrFor(other), payload)
		if tk, err := verifyErr(f, forged); !errors.Is(err, ErrSignature) || tk.Key != nil {
			t.Errorf("%s: forged token of a revoked kid: %v", alg, err)
		}
		// A revoked kid is never added back.
		f.ring.Add(other)
		if _, ok := f.ring.Lookup(other.ID); ok {
			t.Errorf("%s: revoked kid added back", alg)
		}
		if _, err := verifyErr(f, forged); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: forged token after Add: %v", alg, err)
		}
	}
	// A revoked kid whose material the ring never held is just unknown.
	f.ring.Revoke("nope")
	if _, err := verifyErr(f, rawToken(t, hs, `{"alg":"HS256","kid":"nope"}`, payload)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("revoked unknown kid: %v", err)
	}
}

func TestMalformed(t *testing.T) {
	f := newFixture(t, VerifierOptions{})
	k := f.keys[AlgHS256]
	good := f.issue(t, AlgHS256, Spec{})
	parts := strings.Split(good, ".")
	h := hdrFor(k)
	sign := func(payload string) string { return rawToken(t, k, h, payload) }
	last := parts[2][len(parts[2])-1:]
	nonCanon := map[bool]string{true: "C", false: "B"}[last == "B"]
	cases := map[string]string{
		"empty":             "",
		"one segment":       "abc",
		"two segments":      parts[0] + "." + parts[1],
		"four segments":     good + ".",
		"extra segment":     good + "." + parts[2],
		"empty header":      "." + parts[1] + "." + parts[2],
		"empty payload":     parts[0] + ".." + parts[2],
		"padded header":     parts[0] + "=." + parts[1] + "." + parts[2],
		"padded signature":  good + "=",
		"std alphabet":      strings.NewReplacer("-", "+", "_", "/").Replace(parts[0]) + "+/." + parts[1] + "." + parts[2],
		"newline":           parts[0] + "\n." + parts[1] + "." + parts[2],
		"cr in signature":   good[:len(good)-3] + "\r" + good[len(good)-3:],
		"space":             " " + good,
		"non-canonical b64": parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + nonCanon,
		"garbage":           "this.is.garbage!",
		"header not json":   enc.EncodeToString([]byte("hello")) + "." + parts[1] + "." + parts[2],
		"header array":      rawToken(t, k, `["HS256"]`, claimsJSON("")),
		"header string":     rawToken(t, k, `"x"`, claimsJSON("")),
		"payload null":      sign(`null`),
		"payload array":     sign(`[1,2]`),
		"payload number":    sign(`42`),
		"payload trailing":  sign(claimsJSON("") + `x`),
		"payload two objs":  sign(claimsJSON("") + `{}`),
		"unterminated":      sign(`{"sub":"alice"`),
		"trailing comma":    sign(`{"sub":"alice",}`),
		"missing colon":     sign(`{"sub" "alice"}`),
		"single quotes":     sign(`{'sub':'alice'}`),
		"bad escape":        sign(`{"sub":"a\x"}`),
		"short unicode":     sign(`{"sub":"a\u12"}`),
		"control char":      sign("{\"sub\":\"a\x01b\"}"),
		"invalid utf8":      sign("{\"sub\":\"a\xffb\"}"),
		"leading zero":      sign(`{"exp":0123}`),
		"plus number":       sign(`{"exp":+1}`),
		"bare dot":          sign(`{"exp":1.}`),
		"bare exponent":     sign(`{"exp":1e}`),
		"NaN":               sign(`{"exp":NaN}`),
		"bad literal":       sign(`{"x":tru}`),
		"exp string":        sign(`{"sub":"a","exp":"1772367300"}`),
		"exp null":          sign(`{"sub":"a","exp":null}`),
		"exp huge":          sign(`{"sub":"a","exp":1e300}`),
		"exp 2^53+1":        sign(`{"sub":"a","exp":9007199254740993}`),
		"exp 20 digits":     sign(`{"sub":"a","exp":12345678901234567890}`),
		"sub number":        sign(`{"sub":12,"exp":1772367300}`),
		"jti object":        sign(`{"jti":{},"exp":1772367300}`),
		"typ array":         sign(`{"typ":["refresh"],"exp":1772367300}`),
		"deep nesting":      sign(`{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`),
		"kid number":        rawToken(t, k, `{"alg":"HS256","kid":7}`, claimsJSON("")),
		"crit header":       rawToken(t, k, `{"alg":"HS256","kid":"kid-HS256","crit":["exp"]}`, claimsJSON("")),
		"b64 false":         rawToken(t, k, `{"alg":"HS256","kid":"kid-HS256","b64":false,"crit":["b64"]}`, claimsJSON("")),
		"header typ":        rawToken(t, k, `{"alg":"HS256","kid":"kid-HS256","typ":"at+jwt"}`, claimsJSON("")),
		"missing exp":       sign(`{"sub":"alice"}`),
	}
	for name, tok := range cases {
		_, err := verifyErr(f, tok)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	// Tampering that keeps the structure is a signature failure.
	sigBytes, _ := enc.DecodeString(parts[2])
	sigBytes[0] ^= 1
	for name, tok := range map[string]string{
		"flipped signature bit": parts[0] + "." + parts[1] + "." + enc.EncodeToString(sigBytes),
		"truncated signature":   parts[0] + "." + parts[1] + "." + enc.EncodeToString(sigBytes[:31]),
		"no signature":          parts[0] + "." + parts[1] + ".",
		"swapped payload":       parts[0] + "." + enc.EncodeToString([]byte(claimsJSON(`,"role":"admin"`))) + "." + parts[2],
	} {
		if _, err := verifyErr(f, tok); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: err = %v, want ErrSignature", name, err)
		}
	}
	// Accepted variations.
	for name, tok := range map[string]string{
		"typ lowercase":   rawToken(t, k, `{"alg":"HS256","kid":"kid-HS256","typ":"jwt"}`, claimsJSON("")),
		"no typ":          rawToken(t, k, `{"alg":"HS256","kid":"kid-HS256"}`, claimsJSON("")),
		"whitespace json": rawToken(t, k, " {\n\t\"alg\" : \"HS256\" , \"kid\":\"kid-HS256\"}\r\n", " { \"exp\" : 1772367300 , \"x\" : [ 1 , { } , \"\" , true , false , null , -0.5e-3 ] } "),
		"empty-ish":       sign(`{"exp":1772367300}`),
		"float exp":       sign(`{"exp":1.7723673e9}`),
		"exponent":        sign(`{"exp":17723673E2,"nbf":-1,"iat":0}`),
		"nested claims":   sign(`{"exp":1772367300,"aud":["a","b"],"ctx":{"sub":"nested","sub":"dup inside is not top-level"}}`),
	} {
		if _, err := verifyErr(f, tok); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDuplicateNames(t *testing.T) {
	f := newFixture(t, VerifierOptions{})
	k := f.keys[AlgHS256]
	many := func(n int, dup string) string {
		var b strings.Builder
		b.WriteString(`{"exp":1772367300`)
		for i := range n {
			fmt.Fprintf(&b, `,"c%d":%d`, i, i)
		}
		b.WriteString(dup + `}`)
		return b.String()
	}
	for name, tok := range map[string]string{
		"sub twice":          rawToken(t, k, hdrFor(k), claimsJSON(`,"sub":"mallory"`)),
		"exp twice":          rawToken(t, k, hdrFor(k), claimsJSON(`,"exp":9999999999`)),
		"escaped duplicate":  rawToken(t, k, hdrFor(k), claimsJSON(`,"s\u0075b":"mallory"`)),
		"unknown twice":      rawToken(t, k, hdrFor(k), claimsJSON(`,"role":"a","role":"b"`)),
		"spilled duplicate":  rawToken(t, k, hdrFor(k), many(40, `,"c3":1`)),
		"late duplicate":     rawToken(t, k, hdrFor(k), many(40, `,"c35":1`)),
		"header alg twice":   rawToken(t, k, `{"alg":"HS256","kid":"kid-HS256","alg":"none"}`, claimsJSON("")),
		"header kid escaped": rawToken(t, k, `{"alg":"HS256","kid":"kid-HS256","\u006bid":"x"}`, claimsJSON("")),
	} {
		if _, err := verifyErr(f, tok); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	if _, err := verifyErr(f, rawToken(t, k, hdrFor(k), many(100, ""))); err != nil {
		t.Errorf("100 distinct claims: %v", err)
	}
}

func TestEscapedStrings(t *testing.T) {
	f := newFixture(t, VerifierOptions{})
	k := f.keys[AlgHS256]
	for _, raw := range []string{
		`al\u0069ce`, `a\"b\\c\/d`, `\b\f\n\r\t`, `\ud83d\ude00 smile`, `lone \ud800 high`,
		`lone \udc00 low`, `\ud800\u0041`, `\ud83d\ud83d\ude00`, `\u00e9t\u00C9`, `\u0000nul`, `plain é 😀`,
	} {
		tok := rawToken(t, k, `{"alg":"HS\u0032\u0035\u0036","kid":"kid-\u0048S256"}`,
			fmt.Sprintf(`{"sub":"%s","jti":"%s","exp":1772367300}`, raw, raw))
		tk, err := verifyErr(f, tok)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		var want string
		if err := json.Unmarshal([]byte(`"`+raw+`"`), &want); err != nil {
			t.Fatal(err)
		}
		if tk.Subject() != want || tk.ID() != want {
			t.Errorf("%s: sub %q jti %q, encoding/json says %q", raw, tk.Sub, tk.JTI, want)
		}
		if !strings.Contains(string(tk.Payload), raw) {
			t.Errorf("%s: payload not verbatim: %s", raw, tk.Payload)
		}
	}
}

func TestTimeAndIssuer(t *testing.T) {
	f := newFixture(t, VerifierOptions{Issuer: "revocd", Leeway: 30 * time.Second})
	strict := NewVerifier(f.ring, VerifierOptions{Issuer: "revocd", Now: f.clk.Now})
	k := f.keys[AlgHS256]
	exp := t0.Unix() + 900
	tok := f.issue(t, AlgHS256, Spec{}) // exp = t0+900
	check := func(v *Verifier, at time.Time, tok string, want error) {
		t.Helper()
		f.clk.t = at
		var tk Token
		err := v.Verify([]byte(tok), &tk)
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Errorf("at %v: err = %v, want %v", at.Sub(t0), err, want)
		}
		if err != nil && errors.Is(err, ErrExpired) && tk.Key == nil {
			t.Errorf("expired token: signature-verified key not reported")
		}
	}
	check(strict, time.Unix(exp, 0).Add(-time.Nanosecond), tok, nil)
	check(strict, time.Unix(exp, 0), tok, ErrExpired)
	check(f.ver, time.Unix(exp, 0).Add(29*time.Second), tok, nil)
	check(f.ver, time.Unix(exp, 0).Add(30*time.Second), tok, ErrExpired)

	nbfTok := rawToken(t, k, hdrFor(k), claimsJSON(`,"nbf":`+strconv.FormatInt(t0.Unix()+60, 10)))
	check(strict, t0.Add(59*time.Second), nbfTok, ErrNotYetValid)
	check(strict, t0.Add(60*time.Second), nbfTok, nil)
	check(f.ver, t0.Add(30*time.Second), nbfTok, nil)
	check(f.ver, t0.Add(29*time.Second), nbfTok, ErrNotYetValid)

	// Fractions round conservatively: exp down, nbf up.
	frac := rawToken(t, k, hdrFor(k), fmt.Sprintf(`{"iss":"revocd","exp":%d.9,"nbf":%d.1}`, t0.Unix()+10, t0.Unix()-10))
	check(strict, t0.Add(9*time.Second), frac, nil)
	check(strict, t0.Add(10*time.Second), frac, ErrExpired)
	check(strict, t0.Add(-10*time.Second), frac, ErrNotYetValid)
	check(strict, t0.Add(-9*time.Second), frac, nil)

	check(strict, t0, rawToken(t, k, hdrFor(k), `{"exp":1772367300,"iss":"evil"}`), ErrIssuer)
	check(strict, t0, rawToken(t, k, hdrFor(k), `{"exp":1772367300}`), ErrIssuer)
	check(strict, t0, rawToken(t, k, hdrFor(k), `{"exp":1772367300,"iss":"revocd "}`), ErrIssuer)
	noIss := NewVerifier(f.ring, VerifierOptions{Now: f.clk.Now})
	check(noIss, t0, rawToken(t, k, hdrFor(k), `{"exp":1772367300,"iss":"anyone"}`), nil)

	noExp := rawToken(t, k, hdrFor(k), `{"sub":"alice","iss":"revocd"}`)
	check(strict, t0, noExp, ErrMalformed)
	check(NewVerifier(f.ring, VerifierOptions{Now: f.clk.Now, AllowMissingExp: true}), t0, noExp, nil)
}

func TestParseUnverified(t *testing.T) {
	f := newFixture(t, VerifierOptions{})
	tok := f.issue(t, AlgEdDSA, Spec{Type: TypeRefresh})
	f.ring.Remove(f.keys[AlgEdDSA].ID)
	f.clk.t = t0.Add(24 * time.Hour)
	var tk Token
	if err := f.ver.ParseUnverified([]byte(tok), &tk); err != nil {
		t.Fatal(err)
	}
	if tk.Subject() != "alice" || !tk.IsRefresh() || tk.Key != nil || tk.KeyID() != "kid-EdDSA" ||
		string(tk.HeaderTyp) != "JWT" || len(tk.Signature) != 64 {
		t.Fatalf("%+v", tk.Claims())
	}
	parts := strings.Split(tok, ".")
	if h, _ := enc.DecodeString(parts[0]); !bytes.Equal(h, tk.Header) {
		t.Fatal("header not verbatim")
	}
	if p, _ := enc.DecodeString(parts[1]); !bytes.Equal(p, tk.Payload) {
		t.Fatal("payload not verbatim")
	}
	// Reuse: a smaller token after a larger one leaves no stale claims.
	small := rawToken(t, nil, `{"alg":"none"}`, `{"exp":1}`)
	if err := f.ver.ParseUnverified([]byte(small), &tk); err != nil || tk.Sub != nil || tk.Kid != nil || tk.Exp != 1 {
		t.Fatalf("reuse: %v %+v", err, tk.Claims())
	}
}

func TestTooLarge(t *testing.T) {
	f := newFixture(t, VerifierOptions{})
	k := f.keys[AlgHS256]
	huge := rawToken(t, k, hdrFor(k), claimsJSON(`,"pad":"`+strings.Repeat("x", DefaultMaxTokenBytes)+`"`))
	if _, err := verifyErr(f, huge); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge token: %v", err)
	}
	var tk Token
	if err := f.ver.ParseUnverified([]byte(huge), &tk); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge token unverified: %v", err)
	}
	hugeHdr := strings.Repeat("A", 20000) + ".e30.AA"
	if _, err := verifyErr(f, hugeHdr); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge header: %v", err)
	}
	small := NewVerifier(f.ring, VerifierOptions{Now: f.clk.Now, MaxTokenBytes: 100})
	if err := small.Verify([]byte(f.issue(t, AlgHS256, Spec{})), &tk); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("MaxTokenBytes=100: %v", err)
	}
	// The largest token we issue (ML-DSA-65) fits the default.
	if _, err := verifyErr(f, f.issue(t, AlgMLDSA65, Spec{Extra: map[string]any{"pad": strings.Repeat("x", 2000)}})); err != nil {
		t.Fatalf("ML-DSA-65 token: %v", err)
	}
}

func TestVerifyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	f := newFixture(t, VerifierOptions{Issuer: "revocd", CacheSize: 64})
	for _, tc := range []struct {
		alg  Algorithm
		max  float64
		verb string
	}{
		{AlgHS256, 0, "Verify"},
		{AlgEdDSA, 0, "Verify (cache hit)"},
		{AlgHS256, 0, "ParseUnverified"},
	} {
		tok := []byte(f.issue(t, tc.alg, Spec{Extra: map[string]any{"scope": "a b", "esc": "q\"x"}}))
		var tk Token
		run := func() {
			var err error
			if tc.verb == "ParseUnverified" {
				err = f.ver.ParseUnverified(tok, &tk)
			} else {
				err = f.ver.Verify(tok, &tk)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		run()
		if n := testing.AllocsPerRun(200, run); n > tc.max {
			t.Errorf("%s %s: %v allocs/op, want <= %v", tc.alg, tc.verb, n, tc.max)
		}
	}
}

func TestCache(t *testing.T) {
	f := newFixture(t, VerifierOptions{CacheSize: 32})
	c := f.ver.cache
	if c == nil {
		t.Fatal("no cache")
	}
	var toks []string
	for i := range 200 {
		toks = append(toks, f.issue(t, AlgEdDSA, Spec{Subject: "u" + strconv.Itoa(i)}))
	}
	for _, tok := range toks {
		if _, err := verifyErr(f, tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.len(); n == 0 || n > 32+cacheShards {
		t.Fatalf("cache holds %d entries, bound is %d", n, 32)
	}
	// Collision safety: an entry filed under tokA's hash but holding other
	// bytes is not a hit for tokA.
	a, b := []byte(toks[0]), []byte(toks[1])
	h := hashOf(c, a)
	s := c.shard(h)
	s.mu.Lock()
	s.m[h] = &cacheEntry{tok: b, key: f.keys[AlgEdDSA]}
	s.mu.Unlock()
	if c.contains(a, f.keys[AlgEdDSA]) {
		t.Fatal("hash collision treated as a hit")
	}
	c.add(a, f.keys[AlgEdDSA])
	if !c.contains(a, f.keys[AlgEdDSA]) || c.contains(a, f.keys[AlgES256]) {
		t.Fatal("hit must require the same token and key")
	}
	// A cached token is still subject to exp.
	f.clk.t = t0.Add(time.Hour)
	if _, err := verifyErr(f, toks[0]); !errors.Is(err, ErrExpired) {
		t.Fatalf("cached token after expiry: %v", err)
	}
	// Forged signatures are never cached and never accepted.
	f.clk.t = t0
	forged := toks[2][:len(toks[2])-4] + "AAAA"
	for range 2 {
		if _, err := verifyErr(f, forged); !errors.Is(err, ErrSignature) {
			t.Fatalf("forged: %v", err)
		}
	}
}

func hashOf(c *verifiedCache, tok []byte) uint64 { return maphash.Bytes(c.seed, tok) }

// TestCacheConcurrent hammers a small cache from several goroutines (-race).
func TestCacheConcurrent(t *testing.T) {
	f := newFixture(t, VerifierOptions{CacheSize: 8})
	var toks [][]byte
	for i := range 24 {
		alg := []Algorithm{AlgEdDSA, AlgES256}[i%2]
		toks = append(toks, []byte(f.issue(t, alg, Spec{Subject: "u" + strconv.Itoa(i)})))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var tk Token
			for i := range 150 {
				tok := toks[(i*7+g)%len(toks)]
				if err := f.ver.Verify(tok, &tk); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestMessage(t *testing.T) {
	f := newFixture(t, VerifierOptions{})
	tok := f.issue(t, AlgHS256, Spec{})
	f.clk.t = t0.Add(time.Hour)
	_, err := verifyErr(f, tok)
	if Message(err) != "Token has expired" || !errors.Is(err, ErrExpired) {
		t.Fatalf("%v -> %q", err, Message(err))
	}
	// Message is the one place sentinels become the seed's texts; the
	// sentinels' own texts are package-prefixed and lower case.
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("x"), MessageInvalid},
		{ErrTooLarge, "Token is too large"},
		{fmt.Errorf("ctx: %w", ErrMalformed), "Malformed token"},
		{ErrAlgorithm, "Invalid token algorithm"},
		{ErrUnknownKey, "Unknown signing key"},
		{fmt.Errorf("ctx: %w", ErrSignature), "Invalid signature"},
		{ErrKeyRevoked, "Token has been revoked"},
		{ErrExpired, "Token has expired"},
		{ErrNotYetValid, "Token is not yet valid"},
		{ErrIssuer, "Invalid token issuer"},
		{ErrReservedClaim, "Reserved claim name"},
	} {
		if got := Message(tc.err); got != tc.want {
			t.Errorf("Message(%v) = %q, want %q", tc.err, got, tc.want)
		}
		if tc.err != nil && tc.want != MessageInvalid && (!strings.HasPrefix(tc.err.Error(), "token: ") && !strings.HasPrefix(tc.err.Error(), "ctx: token: ")) {
			t.Errorf("sentinel text %q is not package-prefixed", tc.err)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = Message(err) }); n != 0 {
		t.Errorf("Message allocates %v times", n)
	}
	var nilV *Verifier
	if nilV.Verify(nil, &Token{}) == nil || f.ver.Verify(nil, nil) == nil {
		t.Fatal("nil receiver/token")
	}
}

func TestAudienceType(t *testing.T) {
	f := newFixture(t, VerifierOptions{})
	k := f.keys[AlgHS256]
	for aud, ok := range map[string]bool{`"a"`: true, `["a","b"]`: true, `[]`: true, `[ "a" ]`: true,
		`5`: false, `["a",1]`: false, `{}`: false, `null`: false, `["a",]`: false} {
		_, err := verifyErr(f, rawToken(t, k, hdrFor(k), claimsJSON(`,"aud":`+aud)))
		if ok != (err == nil) || !ok && !errors.Is(err, ErrMalformed) {
			t.Errorf("aud %s: %v", aud, err)
		}
	}
}

func TestEmptyKidIsUnknown(t *testing.T) {
	f := newFixture(t, VerifierOptions{})
	k := f.keys[AlgHS256]
	if _, err := verifyErr(f, rawToken(t, k, `{"alg":"HS256","kid":""}`, claimsJSON(""))); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf(`"kid":"": %v`, err)
	}
	if _, err := verifyErr(f, rawToken(t, k, `{"alg":"HS256"}`, claimsJSON(""))); err != nil {
		t.Fatalf("no kid, current key: %v", err)
	}
}
