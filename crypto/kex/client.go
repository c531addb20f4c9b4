package kex

import (
	"crypto/ecdh"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/cloudflare/circl/kem/mlkem/mlkem768"
	"github.com/cloudflare/circl/kem/xwing"
)

// ClientKey is a client's ephemeral key pair for one refresh: the reference
// client implementation, used by tests and the CLI. Use a fresh ClientKey
// per refresh; discarding it gives forward secrecy.
//
// A ClientKey is immutable after NewClientKey and safe for concurrent use.
type ClientKey struct {
	kind Kind
	pub  []byte
	x    *ecdh.PrivateKey
	m    *mlkem768.PrivateKey
	w    *xwing.PrivateKey
}

// NewClientKey generates an ephemeral key pair of the given kind from rand
// (crypto/rand.Reader if nil): 32 bytes for X25519 and X-Wing, 64 for
// ML-KEM-768, so a deterministic reader gives a deterministic key.
func NewClientKey(kind Kind, rand io.Reader) (*ClientKey, error) {
	if rand == nil {
		rand = cryptoRand
	}
	c := &ClientKey{kind: kind}
	switch kind {
	case X25519:
		var seed [32]byte
		defer clear(seed[:])
		if _, err := io.ReadFull(rand, seed[:]); err != nil {
			return nil, fmt.Errorf("kex: reading randomness: %w", err)
		}
		k, err := ecdh.X25519().NewPrivateKey(seed[:])
		if err != nil {
			return nil, fmt.Errorf("kex: x25519: %w", err)
		}
		c.x, c.pub = k, k.PublicKey().Bytes()
	case MLKEM768:
		pk, sk, err := mlkem768.GenerateKeyPair(rand)
		if err != nil {
			return nil, fmt.Errorf("kex: ml-kem-768: %w", err)
		}
		c.m, c.pub = sk, make([]byte, mlkem768.PublicKeySize)
		pk.Pack(c.pub)
	case XWing:
		sk, pk, err := xwing.GenerateKeyPair(rand)
		if err != nil {
			return nil, fmt.Errorf("kex: x-wing: %w", err)
		}
		c.w, c.pub = sk, make([]byte, xwing.PublicKeySize)
		pk.Pack(c.pub)
	default:
		return nil, fmt.Errorf("kex: unknown kind %q", kind)
	}
	return c, nil
}

// Kind returns the key's kind.
func (c *ClientKey) Kind() Kind { return c.kind }

// PublicKey returns a copy of the raw public key.
func (c *ClientKey) PublicKey() []byte { return append([]byte(nil), c.pub...) }

// PublicKeyBase64 returns the public key in standard base64, the form sent
// as "client_public_key".
func (c *ClientKey) PublicKeyBase64() string { return base64.StdEncoding.EncodeToString(c.pub) }

// OpenSessionKey recovers the session key from the server's (base64-decoded)
// server_public_key and encrypted_session_key for the access token's jti.
// Every failure, including a tampered ciphertext, nonce or jti, wraps
// ErrDecrypt.
func (c *ClientKey) OpenSessionKey(serverPublicKey, encryptedSessionKey []byte, accessJTI string) ([]byte, error) {
	if accessJTI == "" {
		return nil, ErrEmptyJTI
	}
	if want := c.kind.serverPublicKeySize(); len(serverPublicKey) != want {
		return nil, fmt.Errorf("%w: server public key is %d bytes, want %d", ErrDecrypt, len(serverPublicKey), want)
	}
	var shared []byte
	switch c.kind {
	case X25519:
		peer, err := ecdh.X25519().NewPublicKey(serverPublicKey)
		if err != nil {
			return nil, fmt.Errorf("%w: x25519: %w", ErrDecrypt, err)
		}
		if shared, err = c.x.ECDH(peer); err != nil {
			return nil, fmt.Errorf("%w: x25519: %w", ErrDecrypt, err)
		}
	case MLKEM768:
		shared = make([]byte, mlkem768.SharedKeySize)
		c.m.DecapsulateTo(shared, serverPublicKey) // implicit rejection on tampering
	case XWing:
		shared = make([]byte, xwing.SharedKeySize)
		c.w.DecapsulateTo(shared, serverPublicKey)
	}
	defer clear(shared)
	key, err := deriveKey(shared, accessJTI)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return open(key, encryptedSessionKey, accessJTI)
}
