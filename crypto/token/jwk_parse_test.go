package token

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// TestParseJWKSRoundTrip: a ring's JWKS parsed back verifies the ring's
// tokens, for every asymmetric algorithm, and the parsed keys cannot sign.
func TestParseJWKSRoundTrip(t *testing.T) {
	for _, alg := range []Algorithm{AlgEdDSA, AlgES256, AlgMLDSA65} {
		t.Run(string(alg), func(t *testing.T) {
			k, err := GenerateKey(alg, "k-"+string(alg), bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
			if err != nil {
				t.Fatal(err)
			}
			ring := NewRing(k)
			tok, _, err := (&Issuer{Ring: ring, Issuer: "iss"}).Issue(Spec{Subject: "alice", TTL: time.Minute, JTI: "j1"})
			if err != nil {
				t.Fatal(err)
			}
			keys, err := ParseJWKS(ring.JWKS())
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 || keys[0].ID != k.ID || keys[0].Alg != alg {
				t.Fatalf("keys = %v", keys)
			}
			pub := NewRing(nil)
			pub.Add(keys[0])
			var parsed Token
			if err := NewVerifier(pub, VerifierOptions{Issuer: "iss"}).Verify([]byte(tok), &parsed); err != nil {
				t.Fatalf("verify with the parsed key: %v", err)
			}
			if _, _, err := (&Issuer{Ring: NewRing(keys[0]), Issuer: "iss"}).Issue(Spec{Subject: "alice", TTL: time.Minute, JTI: "j1"}); err == nil {
				t.Fatal("a verify-only key signed a token")
			}
		})
	}
}

func TestParseJWKSRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"not json":     `{`,
		"no kid":       `{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		"short x":      `{"keys":[{"kid":"a","kty":"OKP","crv":"Ed25519","alg":"EdDSA","x":"AAAA"}]}`,
		"alg mismatch": `{"keys":[{"kid":"a","kty":"OKP","crv":"Ed25519","alg":"ES256","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		"hmac":         `{"keys":[{"kid":"a","kty":"oct","alg":"HS256","k":"c2VjcmV0"}]}`,
		"bad point":    `{"keys":[{"kid":"a","kty":"EC","crv":"P-256","alg":"ES256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}`,
		"enc use":      `{"keys":[{"kid":"a","use":"enc","kty":"OKP","crv":"Ed25519","alg":"EdDSA","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			keys, err := ParseJWKS([]byte(doc))
			if err == nil || keys != nil {
				t.Fatalf("ParseJWKS = %v, %v; want an error", keys, err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrAlgorithm) {
				t.Fatalf("err = %v, want ErrMalformed or ErrAlgorithm", err)
			}
		})
	}
}
