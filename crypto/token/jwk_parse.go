package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// maxJWKSKeys bounds the keys ParseJWKS accepts from one document.
const maxJWKSKeys = 1024

// jwk is the subset of RFC 7517 members PublicJWK writes.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Pub string `json:"pub"`
}

// ParseJWKS parses a JSON Web Key Set as served by revocd's
// /.well-known/jwks.json (Ring.JWKS) into verify-only keys: keys with
// public material only, which verify tokens in a Ring but cannot sign
// (Issuer.Issue with one fails). Every key must be one PublicJWK writes
// (Ed25519 OKP, P-256 EC, ML-DSA-65 AKP) with a kid and an alg matching
// its type; any other key is an error wrapping ErrAlgorithm or
// ErrMalformed, and then no key is returned. It is safe for concurrent use.
func ParseJWKS(b []byte) ([]*Key, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("token: JWKS: %w: %v", ErrMalformed, err)
	}
	if len(doc.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("token: JWKS: %d keys, more than %d: %w", len(doc.Keys), maxJWKSKeys, ErrMalformed)
	}
	out := make([]*Key, 0, len(doc.Keys))
	for i, raw := range doc.Keys {
		k, err := ParsePublicJWK(raw)
		if err != nil {
			return nil, fmt.Errorf("token: JWKS key %d: %w", i, err)
		}
		out = append(out, k)
	}
	return out, nil
}

// ParsePublicJWK parses one public JWK (see ParseJWKS) into a verify-only
// key. It is safe for concurrent use.
func ParsePublicJWK(b []byte) (*Key, error) {
	var j jwk
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("token: JWK: %w: %v", ErrMalformed, err)
	}
	if j.Kid == "" || len(j.Kid) > MaxKeyIDBytes {
		return nil, fmt.Errorf("token: JWK: kid must be 1..%d bytes: %w", MaxKeyIDBytes, ErrMalformed)
	}
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("token: JWK %q: use %q, want sig: %w", j.Kid, j.Use, ErrMalformed)
	}
	dec := base64.RawURLEncoding.DecodeString
	alg := Algorithm(j.Alg)
	m := &material{alg: alg, algBytes: []byte(alg), method: alg.method()}
	switch {
	case alg == AlgEdDSA && j.Kty == "OKP" && j.Crv == "Ed25519":
		x, err := dec(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("token: JWK %q: Ed25519 x must be %d bytes of base64url: %w", j.Kid, ed25519.PublicKeySize, ErrMalformed)
		}
		m.verifyKey, m.pub = ed25519.PublicKey(x), x
	case alg == AlgES256 && j.Kty == "EC" && j.Crv == "P-256":
		x, errX := dec(j.X)
		y, errY := dec(j.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, fmt.Errorf("token: JWK %q: P-256 x and y must be 32 bytes of base64url: %w", j.Kid, ErrMalformed)
		}
		pub := append(append([]byte{4}, x...), y...)
		pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pub)
		if err != nil {
			return nil, fmt.Errorf("token: JWK %q: P-256 point: %w: %v", j.Kid, ErrMalformed, err)
		}
		m.verifyKey, m.pub = pk, pub
	case alg == AlgMLDSA65 && j.Kty == "AKP":
		p, err := dec(j.Pub)
		if err != nil || len(p) != mldsa65.PublicKeySize {
			return nil, fmt.Errorf("token: JWK %q: ML-DSA-65 pub must be %d bytes of base64url: %w", j.Kid, mldsa65.PublicKeySize, ErrMalformed)
		}
		pk := new(mldsa65.PublicKey)
		if err := pk.UnmarshalBinary(p); err != nil {
			return nil, fmt.Errorf("token: JWK %q: ML-DSA-65 key: %w: %v", j.Kid, ErrMalformed, err)
		}
		m.verifyKey, m.pub = pk, p
	default:
		return nil, fmt.Errorf("token: JWK %q: kty %q crv %q alg %q: %w", j.Kid, j.Kty, j.Crv, j.Alg, ErrAlgorithm)
	}
	return &Key{ID: j.Kid, Alg: alg, CreatedAt: time.Time{}, m: m}, nil
}
