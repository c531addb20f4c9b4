// Package dpop verifies DPoP proofs (RFC 9449): the proof JWT's header and
// claims (§4.3), its signature by the header's public JWK, RFC 7638
// thumbprints of that key, htu normalisation, ath, and a bounded replay
// cache of proof jtis. It does no I/O; callers pass the request's method,
// URL and the current time.
//
// Algorithms: ES256 (EC P-256), EdDSA or its fully-specified name Ed25519
// (RFC 9864; npm's dpop 2.x signs Ed25519 keys so) with an OKP Ed25519 key
// and, as a revocd extension, ML-DSA-65 with an AKP key
// ({"kty":"AKP","alg":"ML-DSA-65","pub":...}, draft-ietf-cose-dilithium /
// RFC 9964).
package dpop

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// Algs are the proof algorithms accepted, in preference order (for the
// metadata's dpop_signing_alg_values_supported). "Ed25519" is RFC 9864's
// fully-specified name of EdDSA with Ed25519, the "alg" npm's dpop writes.
var Algs = []string{"ES256", "EdDSA", "Ed25519", "ML-DSA-65"}

// MaxProofLen bounds a proof's size (ML-DSA-65 keys and signatures make
// proofs of about 6.5 KB).
const MaxProofLen = 12 << 10

// Refusal reasons. Each error Verify returns wraps ErrInvalidProof and one
// of these; their texts are the reasons clients see.
var (
	// ErrInvalidProof is wrapped by every refusal.
	ErrInvalidProof = errors.New("invalid DPoP proof")
	ErrMalformed    = errors.New("DPoP proof is not a well-formed JWT")
	ErrTyp          = errors.New(`DPoP proof typ must be "dpop+jwt"`)
	ErrAlg          = errors.New("DPoP proof alg is not supported")
	ErrJWK          = errors.New("DPoP proof jwk is missing, invalid or holds a private key")
	ErrSignature    = errors.New("DPoP proof signature does not verify")
	ErrHTM          = errors.New("DPoP proof htm does not match the request method")
	ErrHTU          = errors.New("DPoP proof htu does not match the request URL")
	ErrIat          = errors.New("DPoP proof iat is outside the accepted window")
	ErrJTI          = errors.New("DPoP proof jti is missing")
	ErrReplay       = errors.New("DPoP proof has been used before")
	// ErrReplayCacheFull: the replay cache holds only unexpired proofs;
	// retry shortly (failing closed: no proof goes unrecorded).
	ErrReplayCacheFull = errors.New("DPoP replay cache is full; retry shortly")
	ErrATH             = errors.New("DPoP proof ath is missing or does not match the access token")
	ErrNonce           = errors.New("DPoP proof nonce is missing or not current")
	ErrKeyMismatch     = errors.New("DPoP proof key does not match the token's cnf.jkt")
)

// Reason returns the refusal reason of an error Verify returned: the text
// of the specific sentinel, without the wrapping.
func Reason(err error) string {
	for _, e := range []error{ErrMalformed, ErrTyp, ErrAlg, ErrJWK, ErrSignature, ErrHTM, ErrHTU, ErrIat, ErrJTI, ErrReplay, ErrReplayCacheFull, ErrATH, ErrNonce, ErrKeyMismatch} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return ErrInvalidProof.Error()
}

func refuse(reason error, format string, args ...any) error {
	if format == "" {
		return fmt.Errorf("%w: %w", ErrInvalidProof, reason)
	}
	return fmt.Errorf("%w: %w: %s", ErrInvalidProof, reason, fmt.Sprintf(format, args...))
}

// JWK is a public JSON Web Key as found in a proof header.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	Alg string `json:"alg,omitempty"`
	Pub string `json:"pub,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	// Private members: their presence is refused.
	D    string `json:"d,omitempty"`
	Priv string `json:"priv,omitempty"`
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of k, base64url
// without padding. The members are the required ones, in lexicographic
// order: EC crv,kty,x,y; OKP crv,kty,x; AKP alg,kty,pub; RSA e,kty,n.
func (k *JWK) Thumbprint() (string, error) {
	var m any
	switch k.Kty {
	case "EC":
		m = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{k.Crv, k.Kty, k.X, k.Y}
	case "OKP":
		m = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
		}{k.Crv, k.Kty, k.X}
	case "AKP":
		m = struct {
			Alg string `json:"alg"`
			Kty string `json:"kty"`
			Pub string `json:"pub"`
		}{k.Alg, k.Kty, k.Pub}
	case "RSA": // thumbprints only: RSA proofs are not accepted
		m = struct {
			E   string `json:"e"`
			Kty string `json:"kty"`
			N   string `json:"n"`
		}{k.E, k.Kty, k.N}
	default:
		return "", fmt.Errorf("%w: unknown kty %q", ErrJWK, k.Kty)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// publicKey returns the Go public key of k for alg.
func (k *JWK) publicKey(alg string) (any, error) {
	if k.D != "" || k.Priv != "" {
		return nil, refuse(ErrJWK, "private key members present")
	}
	dec := base64.RawURLEncoding.DecodeString
	switch alg {
	case "ES256":
		if k.Kty != "EC" || k.Crv != "P-256" {
			return nil, refuse(ErrJWK, "ES256 needs an EC P-256 key")
		}
		x, err1 := dec(k.X)
		y, err2 := dec(k.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return nil, refuse(ErrJWK, "bad P-256 coordinates")
		}
		pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
		// Reject points off the curve (ecdh parses and checks them).
		if _, err := pub.ECDH(); err != nil {
			return nil, refuse(ErrJWK, "point not on P-256")
		}
		return pub, nil
	case "EdDSA", "Ed25519":
		if k.Kty != "OKP" || k.Crv != "Ed25519" {
			return nil, refuse(ErrJWK, "%s needs an OKP Ed25519 key", alg)
		}
		x, err := dec(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, refuse(ErrJWK, "bad Ed25519 key")
		}
		return ed25519.PublicKey(x), nil
	case "ML-DSA-65":
		if k.Kty != "AKP" || k.Alg != "ML-DSA-65" {
			return nil, refuse(ErrJWK, `ML-DSA-65 needs an AKP key with alg "ML-DSA-65"`)
		}
		raw, err := dec(k.Pub)
		if err != nil || len(raw) != mldsa65.PublicKeySize {
			return nil, refuse(ErrJWK, "bad ML-DSA-65 public key")
		}
		var pk mldsa65.PublicKey
		if pk.UnmarshalBinary(raw) != nil {
			return nil, refuse(ErrJWK, "bad ML-DSA-65 public key")
		}
		return &pk, nil
	}
	return nil, refuse(ErrAlg, "%q", alg)
}

// Request describes what the proof must match.
type Request struct {
	// Method is the HTTP method (htm), compared exactly.
	Method string
	// URL is the request URL as the server (or resource server) saw it;
	// htu is compared to it after NormalizeHTU on both.
	URL string
	// AccessToken, when non-empty, must be matched by the proof's ath.
	AccessToken string
	// Nonce, when non-empty, must equal the proof's nonce.
	Nonce string
}

// Verifier checks proofs. Its fields must not change after first use;
// Verify is safe for concurrent use if Replay is.
type Verifier struct {
	// Window bounds |now - iat| (default 60s); also the replay horizon.
	Window time.Duration
	// Replay remembers seen jtis; nil disables the replay check.
	Replay *ReplayCache
	// Now returns the current time (time.Now if nil).
	Now func() time.Time
}

// Proof is a verified proof.
type Proof struct {
	// JKT is the RFC 7638 thumbprint of the proof key.
	JKT string
	Alg string
	JTI string
	Iat time.Time
}

type header struct {
	Typ string          `json:"typ"`
	Alg string          `json:"alg"`
	JWK json.RawMessage `json:"jwk"`
}

type claims struct {
	JTI   string      `json:"jti"`
	HTM   string      `json:"htm"`
	HTU   string      `json:"htu"`
	Iat   json.Number `json:"iat"`
	ATH   *string     `json:"ath"`
	Nonce *string     `json:"nonce"`
}

func decodeSegment(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// Verify checks proof against r (RFC 9449 §4.3) and records its jti.
func (v *Verifier) Verify(proof string, r Request) (*Proof, error) {
	if len(proof) == 0 || len(proof) > MaxProofLen {
		return nil, refuse(ErrMalformed, "size %d", len(proof))
	}
	parts := strings.Split(proof, ".")
	if len(parts) != 3 {
		return nil, refuse(ErrMalformed, "")
	}
	var h header
	if decodeSegment(parts[0], &h) != nil {
		return nil, refuse(ErrMalformed, "header")
	}
	if h.Typ != "dpop+jwt" {
		return nil, refuse(ErrTyp, "")
	}
	okAlg := false
	for _, a := range Algs {
		okAlg = okAlg || a == h.Alg
	}
	if !okAlg {
		return nil, refuse(ErrAlg, "%.32q", h.Alg)
	}
	var k JWK
	if len(h.JWK) == 0 || json.Unmarshal(h.JWK, &k) != nil {
		return nil, refuse(ErrJWK, "")
	}
	pub, err := k.publicKey(h.Alg)
	if err != nil {
		return nil, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, refuse(ErrMalformed, "signature encoding")
	}
	signed := proof[:len(parts[0])+1+len(parts[1])]
	if !verifySig(pub, []byte(signed), sig) {
		return nil, refuse(ErrSignature, "")
	}
	var c claims
	if decodeSegment(parts[1], &c) != nil {
		return nil, refuse(ErrMalformed, "claims")
	}
	if c.JTI == "" || len(c.JTI) > 256 {
		return nil, refuse(ErrJTI, "")
	}
	if c.HTM == "" || c.HTM != r.Method {
		return nil, refuse(ErrHTM, "")
	}
	want, err1 := NormalizeHTU(r.URL)
	got, err2 := NormalizeHTU(c.HTU)
	if err1 != nil || err2 != nil || got != want {
		return nil, refuse(ErrHTU, "")
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	window := v.Window
	if window <= 0 {
		window = 60 * time.Second
	}
	iatN, err := c.Iat.Int64()
	if err != nil {
		f, ferr := c.Iat.Float64()
		if ferr != nil {
			return nil, refuse(ErrIat, "missing or not a number")
		}
		iatN = int64(f)
	}
	iat := time.Unix(iatN, 0)
	t := now()
	if iat.Before(t.Add(-window)) || iat.After(t.Add(window)) {
		return nil, refuse(ErrIat, "")
	}
	if r.AccessToken != "" {
		if c.ATH == nil || *c.ATH != ATH(r.AccessToken) {
			return nil, refuse(ErrATH, "")
		}
	}
	if r.Nonce != "" && (c.Nonce == nil || *c.Nonce != r.Nonce) {
		return nil, refuse(ErrNonce, "")
	}
	jkt, err := k.Thumbprint()
	if err != nil {
		return nil, refuse(ErrJWK, "%v", err)
	}
	if v.Replay != nil {
		if err := v.Replay.add(jkt+"\x00"+c.JTI, iat.Add(window), t); err != nil {
			return nil, refuse(err, "")
		}
	}
	return &Proof{JKT: jkt, Alg: h.Alg, JTI: c.JTI, Iat: iat}, nil
}

func verifySig(pub any, msg, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if len(sig) != 64 {
			return false
		}
		d := sha256.Sum256(msg)
		return ecdsa.Verify(k, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	case ed25519.PublicKey:
		return ed25519.Verify(k, msg, sig)
	case *mldsa65.PublicKey:
		return mldsa65.Verify(k, msg, nil, sig)
	}
	return false
}

// UnverifiedNonce returns the "nonce" claim of proof without verifying
// anything ("" if absent or unreadable): for a server that checks its
// nonce before the signature.
func UnverifiedNonce(proof string) string {
	parts := strings.Split(proof, ".")
	if len(parts) != 3 || len(proof) > MaxProofLen {
		return ""
	}
	var c claims
	if decodeSegment(parts[1], &c) != nil || c.Nonce == nil {
		return ""
	}
	return *c.Nonce
}

// ATH returns base64url(SHA-256(accessToken)), the proof's ath.
func ATH(accessToken string) string {
	s := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// NormalizeHTU returns u without query and fragment, with scheme and host
// in lower case and the scheme's default port removed (RFC 9449 §4.3 item
// 9, RFC 3986 §6.2.2-6.2.3). Only http and https URLs are accepted.
func NormalizeHTU(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	scheme := strings.ToLower(p.Scheme)
	if scheme != "http" && scheme != "https" || p.Host == "" || p.User != nil {
		return "", fmt.Errorf("dpop: htu %q is not an absolute http(s) URL", u)
	}
	host, port := strings.ToLower(p.Hostname()), p.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	path := p.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}
