// Package dpoptest makes DPoP proofs (RFC 9449 §4.2) for tests and the
// benchmark harness, with a fresh key of any algorithm crypto/dpop accepts:
// one proof maker instead of one per test package.
package dpoptest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"

	"github.com/revocd/revocd/crypto/dpop"
)

var b64 = base64.RawURLEncoding

// Key is a proof key: Alg is the proofs' "alg", JWK the public key their
// header carries.
type Key struct {
	Alg  string
	JWK  dpop.JWK
	sign func(msg []byte) ([]byte, error)
}

// NewKey generates a key for alg: "ES256", "EdDSA", "Ed25519" (RFC 9864's
// name for EdDSA with Ed25519) or "ML-DSA-65" (an AKP key).
func NewKey(alg string) (*Key, error) {
	switch alg {
	case "ES256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("dpoptest: %w", err)
		}
		pub, err := k.PublicKey.ECDH()
		if err != nil {
			return nil, fmt.Errorf("dpoptest: %w", err)
		}
		raw := pub.Bytes() // 0x04 || X || Y
		return &Key{Alg: alg, JWK: dpop.JWK{Kty: "EC", Crv: "P-256", X: b64.EncodeToString(raw[1:33]), Y: b64.EncodeToString(raw[33:])},
			sign: func(m []byte) ([]byte, error) {
				d := sha256.Sum256(m)
				r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
				if err != nil {
					return nil, err
				}
				out := make([]byte, 64)
				r.FillBytes(out[:32])
				s.FillBytes(out[32:])
				return out, nil
			}}, nil
	case "EdDSA", "Ed25519":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("dpoptest: %w", err)
		}
		return &Key{Alg: alg, JWK: dpop.JWK{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(pub)},
			sign: func(m []byte) ([]byte, error) { return ed25519.Sign(priv, m), nil }}, nil
	case "ML-DSA-65":
		pub, priv, err := mldsa65.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("dpoptest: %w", err)
		}
		raw, err := pub.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("dpoptest: %w", err)
		}
		return &Key{Alg: alg, JWK: dpop.JWK{Kty: "AKP", Alg: "ML-DSA-65", Pub: b64.EncodeToString(raw)},
			sign: func(m []byte) ([]byte, error) {
				sig := make([]byte, mldsa65.SignatureSize)
				err := mldsa65.SignTo(priv, m, nil, false, sig)
				return sig, err
			}}, nil
	}
	return nil, fmt.Errorf("dpoptest: unknown alg %q", alg)
}

// JKT returns the RFC 7638 thumbprint of the key: a bound token's cnf.jkt.
func (k *Key) JKT() string {
	s, err := k.JWK.Thumbprint()
	if err != nil {
		panic(fmt.Sprintf("dpoptest: thumbprint of a generated key: %v", err))
	}
	return s
}

// Header returns the base64url proof header: typ "dpop+jwt", the key's
// alg and jwk.
func (k *Key) Header() string {
	h, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": k.Alg, "jwk": k.JWK})
	return b64.EncodeToString(h)
}

// Sign returns the proof of the base64url header and claims: header "."
// claims "." signature.
func (k *Key) Sign(header string, claims map[string]any) (string, error) {
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("dpoptest: claims: %w", err)
	}
	in := header + "." + b64.EncodeToString(c)
	sig, err := k.sign([]byte(in))
	if err != nil {
		return "", fmt.Errorf("dpoptest: sign: %w", err)
	}
	return in + "." + b64.EncodeToString(sig), nil
}

// Proof returns a proof with the key's header and claims.
func (k *Key) Proof(claims map[string]any) (string, error) { return k.Sign(k.Header(), claims) }

var seq atomic.Int64

// Claims returns proof claims for a request htm htu at iat: a jti unique in
// this process, and ath of accessToken when it is not empty.
func Claims(htm, htu string, iat time.Time, accessToken string) map[string]any {
	c := map[string]any{
		"jti": "p-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatInt(seq.Add(1), 10),
		"htm": htm, "htu": htu, "iat": iat.Unix(),
	}
	if accessToken != "" {
		c["ath"] = dpop.ATH(accessToken)
	}
	return c
}
