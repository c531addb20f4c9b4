package token

import (
	"fmt"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/golang-jwt/jwt/v5"
)

// Algorithm is a JOSE "alg" identifier supported by revocd. Values are
// immutable strings and safe for concurrent use.
type Algorithm string

// The supported algorithms. The string values are the JOSE "alg" names.
const (
	// AlgHS256 is HMAC-SHA-256 with a shared secret (RFC 7518). Default.
	AlgHS256 Algorithm = "HS256"
	// AlgEdDSA is Ed25519 (RFC 8037).
	AlgEdDSA Algorithm = "EdDSA"
	// AlgES256 is ECDSA P-256 with SHA-256 (RFC 7518).
	AlgES256 Algorithm = "ES256"
	// AlgMLDSA65 is ML-DSA-65 (FIPS 204) as registered for JOSE by RFC 9964.
	AlgMLDSA65 Algorithm = "ML-DSA-65"
)

// DefaultAlgorithm is the algorithm used when none is configured.
const DefaultAlgorithm = AlgHS256

// ParseAlgorithm maps a configured algorithm name to an Algorithm. The
// empty string yields DefaultAlgorithm. Matching is exact (JOSE names are
// case-sensitive); "none" and every unlisted name are rejected with an error
// wrapping ErrAlgorithm. It is safe for concurrent use.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch a := Algorithm(s); a {
	case "":
		return DefaultAlgorithm, nil
	case AlgHS256, AlgEdDSA, AlgES256, AlgMLDSA65:
		return a, nil
	}
	return "", fmt.Errorf("token: unsupported algorithm %q (want HS256, EdDSA, ES256 or ML-DSA-65): %w", s, ErrAlgorithm)
}

// String returns the JOSE name.
func (a Algorithm) String() string { return string(a) }

// Symmetric reports whether a uses a shared secret (no public key to publish).
func (a Algorithm) Symmetric() bool { return a == AlgHS256 }

// sigSize is the signature length of a (upper bound, for buffer sizing).
func (a Algorithm) sigSize() int {
	switch a {
	case AlgEdDSA, AlgES256:
		return 64
	case AlgMLDSA65:
		return mldsa65.SignatureSize
	}
	return 32
}

// method returns golang-jwt's SigningMethod for a, or nil if unsupported.
func (a Algorithm) method() jwt.SigningMethod {
	switch a {
	case AlgHS256:
		return jwt.SigningMethodHS256
	case AlgEdDSA:
		return jwt.SigningMethodEdDSA
	case AlgES256:
		return jwt.SigningMethodES256
	case AlgMLDSA65:
		return SigningMethodMLDSA65
	}
	return nil
}
