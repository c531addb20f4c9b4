package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

func TestParseAlgorithm(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Algorithm
		ok   bool
	}{
		{"", AlgHS256, true}, {"HS256", AlgHS256, true}, {"EdDSA", AlgEdDSA, true},
		{"ES256", AlgES256, true}, {"ML-DSA-65", AlgMLDSA65, true},
		{"none", "", false}, {"hs256", "", false}, {"RS256", "", false}, {"ML-DSA-44", "", false},
	} {
		got, err := ParseAlgorithm(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseAlgorithm(%q) = %q, %v", tc.in, got, err)
		}
		if !tc.ok && !errors.Is(err, ErrAlgorithm) {
			t.Errorf("ParseAlgorithm(%q) error %v is not ErrAlgorithm", tc.in, err)
		}
	}
}

func TestGenerateKeyDeterministicAndMarshalRoundTrip(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(string(alg), func(t *testing.T) {
			a, b := mustKey(t, alg, "k1", 7), mustKey(t, alg, "k1", 7)
			if !bytes.Equal(a.m.raw, b.m.raw) || !bytes.Equal(a.m.pub, b.m.pub) {
				t.Fatal("same entropy gave different keys")
			}
			if c := mustKey(t, alg, "k1", 8); bytes.Equal(a.m.raw, c.m.raw) {
				t.Fatal("different entropy gave the same key")
			}
			if alg == AlgHS256 && len(a.m.raw) != 32 {
				t.Fatalf("HS256 secret is %d bytes, want 32", len(a.m.raw))
			}
			bin, err := a.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			got, err := UnmarshalKey(bin)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != a.ID || got.Alg != a.Alg || !got.CreatedAt.Equal(a.CreatedAt) ||
				!bytes.Equal(got.m.raw, a.m.raw) || !bytes.Equal(got.m.pub, a.m.pub) {
				t.Fatalf("round trip mismatch: %v vs %v", got, a)
			}
			// A token signed by the original verifies with the restored key.
			tok, _, err := (&Issuer{Ring: NewRing(a), Now: (&clock{t0}).Now}).Issue(Spec{Subject: "s", JTI: "j", TTL: 60e9})
			if err != nil {
				t.Fatal(err)
			}
			var tk Token
			if err := NewVerifier(NewRing(got), VerifierOptions{Now: (&clock{t0}).Now}).Verify([]byte(tok), &tk); err != nil {
				t.Fatalf("restored key does not verify: %v", err)
			}
		})
	}
}

func TestGenerateKeyErrors(t *testing.T) {
	if _, err := GenerateKey("RS256", "k", nil); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("RS256: %v", err)
	}
	if _, err := GenerateKey(AlgHS256, "", nil); err == nil {
		t.Error("empty kid accepted")
	}
	if _, err := GenerateKey(AlgEdDSA, "k", iotest.ErrReader(errors.New("boom"))); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("entropy failure: %v", err)
	}
	if _, err := GenerateKey(AlgEdDSA, "k", nil); err != nil { // crypto/rand
		t.Error(err)
	}
	// A P-256 scalar >= n is redrawn: feed 32 bytes of 0xff first.
	r := iotest.OneByteReader(bytes.NewReader(append(bytes.Repeat([]byte{0xff}, 32), bytes.Repeat([]byte{7}, 32)...)))
	k, err := GenerateKey(AlgES256, "k", r)
	if err != nil || k.m.raw[0] != 7 {
		t.Fatalf("ES256 redraw: %v", err)
	}
}

func TestNewHMACKey(t *testing.T) {
	if _, err := NewHMACKey("k", nil); err == nil {
		t.Error("empty secret accepted")
	}
	if _, err := NewHMACKey("k", make([]byte, 5000)); err == nil {
		t.Error("huge secret accepted")
	}
	secret := []byte("configured-secret")
	k, err := NewHMACKey("default", secret)
	if err != nil {
		t.Fatal(err)
	}
	secret[0] = 'X' // the key keeps its own copy
	if k.m.raw[0] != 'c' || k.Alg != AlgHS256 {
		t.Fatal("NewHMACKey did not copy the secret")
	}
}

func TestUnmarshalKeyErrors(t *testing.T) {
	good := func(alg Algorithm) []byte {
		b, err := mustKey(t, alg, "kid", 1).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	withRaw := func(alg Algorithm, raw []byte) []byte {
		k := mustKey(t, AlgHS256, "kid", 1)
		k.m = &material{alg: alg, raw: raw}
		b, _ := k.MarshalBinary()
		return b
	}
	ed := good(AlgEdDSA)
	for name, tc := range map[string]struct {
		in   []byte
		want string
	}{
		"empty":        {nil, "bad magic"},
		"magic":        {append([]byte("XXXX"), ed[4:]...), "bad magic"},
		"version":      {append(append([]byte("RVKY"), 9), ed[5:]...), "unsupported format version 9"},
		"truncated":    {ed[:len(ed)-1], "truncated"},
		"trailing":     {append(bytes.Clone(ed), 0), "1 trailing bytes"},
		"ed25519 size": {withRaw(AlgEdDSA, make([]byte, 31)), "seed must be 32 bytes, got 31"},
		"p256 size":    {withRaw(AlgES256, make([]byte, 33)), "private scalar must be 32 bytes, got 33"},
		"p256 zero":    {withRaw(AlgES256, make([]byte, 32)), "invalid P-256 private scalar"},
		"mldsa size":   {withRaw(AlgMLDSA65, make([]byte, 64)), "seed must be 32 bytes, got 64"},
		"hmac empty":   {withRaw(AlgHS256, nil), "secret must be 1..4096 bytes, got 0"},
		"alg":          {withRaw("RS256", make([]byte, 32)), "unsupported algorithm \"RS256\""},
	} {
		_, err := UnmarshalKey(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want containing %q", name, err, tc.want)
		}
	}
}

func TestKeyStringHidesMaterial(t *testing.T) {
	k, err := NewHMACKey("k1", []byte("super-secret-value"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{k.String(), fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", *k, *k, k, k)} {
		if strings.Contains(s, "super") || strings.Contains(s, "secret-value") {
			t.Fatalf("material leaked: %s", s)
		}
	}
	if got := k.String(); got != `Key{kid="k1", alg=HS256}` {
		t.Fatalf("String() = %s", got)
	}
}

func TestPublicJWK(t *testing.T) {
	dec := func(v any) []byte {
		b, err := base64.RawURLEncoding.DecodeString(v.(string))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, ok := mustKey(t, AlgHS256, "h", 1).PublicJWK(); ok {
		t.Fatal("HMAC key has a public JWK")
	}
	for _, alg := range allAlgs[1:] {
		k := mustKey(t, alg, "kid-"+string(alg), 3)
		j, ok := k.PublicJWK()
		if !ok || j["kid"] != k.ID || j["alg"] != string(alg) || j["use"] != "sig" {
			t.Fatalf("%s: %v", alg, j)
		}
		switch alg {
		case AlgEdDSA:
			if j["kty"] != "OKP" || j["crv"] != "Ed25519" || !ed25519.PublicKey(dec(j["x"])).Equal(k.PublicKey()) {
				t.Fatalf("EdDSA JWK %v", j)
			}
		case AlgES256:
			pt := append(append([]byte{4}, dec(j["x"])...), dec(j["y"])...)
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
			if j["kty"] != "EC" || j["crv"] != "P-256" || err != nil || !pub.Equal(k.PublicKey()) {
				t.Fatalf("ES256 JWK %v: %v", j, err)
			}
		case AlgMLDSA65:
			var pk mldsa65.PublicKey
			if j["kty"] != "AKP" || pk.UnmarshalBinary(dec(j["pub"])) != nil || !pk.Equal(k.PublicKey()) {
				t.Fatalf("ML-DSA-65 JWK %v", j)
			}
		}
		for _, private := range []string{"d", "priv", "k"} {
			if _, ok := j[private]; ok {
				t.Fatalf("%s JWK has private member %q", alg, private)
			}
		}
	}
}
