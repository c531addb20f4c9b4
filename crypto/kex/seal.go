package kex

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// InfoPrefix is the HKDF info prefix; the access token's jti follows it.
const InfoPrefix = "revocd/refresh/v1"

// SessionKeySize is the size of the session key and of the derived
// wrapping key.
const SessionKeySize = 32

// EncryptedSessionKeySize is the size of encrypted_session_key once
// base64-decoded: nonce (12) || ciphertext (32) || tag (16).
const EncryptedSessionKeySize = chacha20poly1305.NonceSize + SessionKeySize + chacha20poly1305.Overhead

// ErrDecrypt reports that an encrypted session key could not be opened:
// wrong size, tampered nonce/ciphertext/tag, wrong access jti, or a shared
// secret that differs from the server's.
var ErrDecrypt = errors.New("kex: cannot open encrypted session key")

// ErrEmptyJTI reports an empty access jti, which would leave the session key
// unbound to its access token.
var ErrEmptyJTI = errors.New("kex: empty access jti")

// deriveKey returns HKDF-SHA256(shared, salt = empty, info = InfoPrefix || jti).
func deriveKey(shared []byte, accessJTI string) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, shared, nil, InfoPrefix+accessJTI, SessionKeySize)
	if err != nil {
		return nil, fmt.Errorf("kex: hkdf: %w", err)
	}
	return key, nil
}

// seal returns nonce || ChaCha20-Poly1305.Seal(key, nonce, sessionKey, aad = jti).
func seal(key, nonce, sessionKey []byte, accessJTI string) ([]byte, error) {
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, fmt.Errorf("kex: aead: %w", err)
	}
	out := make([]byte, 0, EncryptedSessionKeySize)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, sessionKey, []byte(accessJTI)), nil
}

// open reverses seal.
func open(key, sealed []byte, accessJTI string) ([]byte, error) {
	if len(sealed) != EncryptedSessionKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrDecrypt, len(sealed), EncryptedSessionKeySize)
	}
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, fmt.Errorf("kex: aead: %w", err)
	}
	n := chacha20poly1305.NonceSize
	pt, err := aead.Open(nil, sealed[:n], sealed[n:], []byte(accessJTI))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	return pt, nil
}
