package token

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/golang-jwt/jwt/v5"
)

// SigningMethodMLDSAType implements jwt.SigningMethod for ML-DSA-65 (FIPS 204,
// "pure" mode, empty context string, as RFC 9964 specifies for JOSE). Sign
// expects a *mldsa65.PrivateKey and uses the hedged (randomized) variant;
// Verify expects a *mldsa65.PublicKey. It is stateless and safe for
// concurrent use.
type SigningMethodMLDSAType struct{}

// SigningMethodMLDSA65 is the ML-DSA-65 signing method, registered with
// golang-jwt under the JOSE name "ML-DSA-65" so that jwt.Parse accepts it.
var SigningMethodMLDSA65 = &SigningMethodMLDSAType{}

// ErrMLDSAVerification is returned by SigningMethodMLDSA65.Verify for a
// signature that does not verify.
var ErrMLDSAVerification = errors.New("token: ml-dsa-65: verification error")

func init() {
	jwt.RegisterSigningMethod(SigningMethodMLDSA65.Alg(), func() jwt.SigningMethod {
		return SigningMethodMLDSA65
	})
}

// Alg returns "ML-DSA-65".
func (*SigningMethodMLDSAType) Alg() string { return string(AlgMLDSA65) }

// Verify reports whether sig is a valid ML-DSA-65 signature of signingString
// under key, which must be a *mldsa65.PublicKey.
func (*SigningMethodMLDSAType) Verify(signingString string, sig []byte, key any) error {
	pk, ok := key.(*mldsa65.PublicKey)
	if !ok || pk == nil {
		return fmt.Errorf("token: ML-DSA-65 verify expects *mldsa65.PublicKey: %w", jwt.ErrInvalidKeyType)
	}
	if len(sig) != mldsa65.SignatureSize {
		return ErrMLDSAVerification
	}
	// Zero-copy view of the string: circl only reads the message.
	msg := unsafe.Slice(unsafe.StringData(signingString), len(signingString))
	if !mldsa65.Verify(pk, msg, nil, sig) {
		return ErrMLDSAVerification
	}
	return nil
}

// Sign returns the ML-DSA-65 signature of signingString under key, which must
// be a *mldsa65.PrivateKey. Signing is hedged: it mixes fresh randomness from
// crypto/rand, as FIPS 204 recommends.
func (*SigningMethodMLDSAType) Sign(signingString string, key any) ([]byte, error) {
	sk, ok := key.(*mldsa65.PrivateKey)
	if !ok || sk == nil {
		return nil, fmt.Errorf("token: ML-DSA-65 sign expects *mldsa65.PrivateKey: %w", jwt.ErrInvalidKeyType)
	}
	sig := make([]byte, mldsa65.SignatureSize)
	if err := mldsa65.SignTo(sk, []byte(signingString), nil, true, sig); err != nil {
		return nil, err
	}
	return sig, nil
}
