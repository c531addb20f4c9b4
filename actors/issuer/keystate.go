package issuer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/revocation"
)

// hsWrapInfo is the HKDF info of the key that seals HS256 secrets for the
// cluster (revocation.KeyState.Sealed).
const hsWrapInfo = "revocd/hs-key-wrap/v1"

// ErrForeignKey is wrapped by every refusal of a received key_state.
var ErrForeignKey = errors.New("issuer: received key refused")

// wrapKey derives the AES-256-GCM key that seals HS256 secrets:
// HKDF-SHA256(JWT_SECRET_KEY, info "revocd/hs-key-wrap/v1"). Every node of
// an HS256 cluster holds JWT_SECRET_KEY already, so sealing under it shares
// a rotated secret with exactly the nodes that could sign with the
// configured one.
func wrapKey(wrapSecret string) (cipher.AEAD, error) {
	if wrapSecret == "" {
		return nil, errors.New("issuer: no JWT_SECRET_KEY to seal HS256 keys with")
	}
	k, err := hkdf.Key(sha256.New, []byte(wrapSecret), nil, hsWrapInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("issuer: derive the HS256 wrap key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("issuer: HS256 wrap key: %w", err)
	}
	return cipher.NewGCM(block)
}

// sealSecret seals an HS256 secret: nonce || AES-256-GCM(secret), with the
// kid as additional data (a sealed secret cannot be moved to another kid).
func sealSecret(wrapSecret, kid string, secret []byte) ([]byte, error) {
	aead, err := wrapKey(wrapSecret)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(secret)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("issuer: seal HS256 key: %w", err)
	}
	return aead.Seal(nonce, nonce, secret, []byte(kid)), nil
}

// openSecret reverses sealSecret.
func openSecret(wrapSecret, kid string, sealed []byte) ([]byte, error) {
	aead, err := wrapKey(wrapSecret)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("sealed secret too short")
	}
	n := aead.NonceSize()
	return aead.Open(nil, sealed[:n], sealed[n:], []byte(kid))
}

// keyStateOf returns the KeyState that publishes k: its public JWK, or for
// HS256 its secret sealed under wrapSecret (JWT_SECRET_KEY). verifyUntil is
// the Unix-ms end of the key's tokens (0: the key may still sign).
func keyStateOf(k *token.Key, state revocation.KeyStatus, verifyUntil int64, wrapSecret string) (*revocation.KeyState, error) {
	ks := &revocation.KeyState{V: revocation.KeyStateVersion, Kid: k.ID, Alg: string(k.Alg), State: state,
		CreatedAt: max(k.CreatedAt.UnixMilli(), 1), VerifyUntil: verifyUntil}
	if k.Alg == token.AlgHS256 {
		sealed, err := sealSecret(wrapSecret, k.ID, k.HMACSecret())
		if err != nil {
			return nil, err
		}
		ks.Sealed = sealed
	} else {
		j, ok := k.PublicJWK()
		if !ok {
			return nil, fmt.Errorf("issuer: key %s has no public JWK", k.ID)
		}
		b, err := json.Marshal(j)
		if err != nil {
			return nil, fmt.Errorf("issuer: encode the JWK of %s: %w", k.ID, err)
		}
		ks.JWK = b
	}
	return ks, nil
}

// keyOfState returns the verify-only key a received KeyState describes. It
// refuses (ErrForeignKey) a JWK whose kid or alg differs from the payload's,
// a secret that does not open under wrapSecret, and an HS256 secret whose
// derived kid (SecretKeyID) is not the payload's: an HS256 kid names its
// secret, so no node can publish another secret under a known kid.
func keyOfState(ks *revocation.KeyState, wrapSecret string) (*token.Key, error) {
	var k *token.Key
	if ks.Alg == revocation.KeyAlgHS256 {
		secret, err := openSecret(wrapSecret, ks.Kid, ks.Sealed)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: the sealed secret does not open with this node's JWT_SECRET_KEY: %w", ErrForeignKey, ks.Kid, err)
		}
		if SecretKeyID(string(secret)) != ks.Kid {
			return nil, fmt.Errorf("%w: %s: the secret does not derive its kid", ErrForeignKey, ks.Kid)
		}
		if k, err = token.NewHMACKey(ks.Kid, secret); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrForeignKey, ks.Kid, err)
		}
	} else {
		var err error
		if k, err = token.ParsePublicJWK(ks.JWK); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrForeignKey, ks.Kid, err)
		}
		if k.ID != ks.Kid || string(k.Alg) != ks.Alg {
			return nil, fmt.Errorf("%w: %s: JWK of kid %q, alg %s inside a key_state of kid %q, alg %s",
				ErrForeignKey, ks.Kid, k.ID, k.Alg, ks.Kid, ks.Alg)
		}
	}
	k.CreatedAt = time.UnixMilli(ks.CreatedAt).UTC()
	return k, nil
}

// newSigningKey generates a fresh signing key of alg. An HS256 key's kid is
// derived from its secret (SecretKeyID), as the configured secret's is, so
// a node that receives it can check the two belong together.
func newSigningKey(alg token.Algorithm) (*token.Key, error) {
	if alg != token.AlgHS256 {
		return token.GenerateKey(alg, NewKeyID(alg), rand.Reader)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("issuer: generate HS256 key: %w", err)
	}
	return token.NewHMACKey(SecretKeyID(string(secret)), secret)
}
