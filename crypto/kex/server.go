package kex

import (
	"crypto/ecdh"
	crand "crypto/rand"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/cloudflare/circl/kem/mlkem/mlkem768"
	"github.com/cloudflare/circl/kem/xwing"
	"golang.org/x/crypto/chacha20poly1305"
)

// ServerResult is the outcome of ServerExchange. ServerPublicKey and
// EncryptedSessionKey are raw bytes; the refresh endpoint answers them
// base64std-encoded as "server_public_key" and "encrypted_session_key".
// SessionKey is the plaintext session key the server keeps.
type ServerResult struct {
	Kind                Kind
	ServerPublicKey     []byte
	EncryptedSessionKey []byte
	SessionKey          []byte
}

// ServerPublicKeyBase64 returns ServerPublicKey in standard base64.
func (r ServerResult) ServerPublicKeyBase64() string {
	return base64.StdEncoding.EncodeToString(r.ServerPublicKey)
}

// EncryptedSessionKeyBase64 returns EncryptedSessionKey in standard base64.
func (r ServerResult) EncryptedSessionKeyBase64() string {
	return base64.StdEncoding.EncodeToString(r.EncryptedSessionKey)
}

// ServerExchange runs the server side of the refresh key exchange for the
// client's base64 public key and the access token's jti.
//
// Randomness is read from rand (crypto/rand.Reader if nil) in this order:
// the X25519 ephemeral private key (32 bytes) or the KEM encapsulation seed
// (32 bytes for ML-KEM-768, 64 for X-Wing), then the session key (32), then
// the nonce (12); a deterministic reader therefore gives a deterministic
// result. Errors wrap ErrInvalidKey for unusable client keys.
//
// ServerExchange is safe for concurrent use if rand is.
func ServerExchange(clientPublicKeyB64 string, accessJTI string, rand io.Reader) (ServerResult, error) {
	if accessJTI == "" {
		return ServerResult{}, ErrEmptyJTI
	}
	if rand == nil {
		rand = cryptoRand
	}
	pub, err := decodeKey(clientPublicKeyB64)
	if err != nil {
		return ServerResult{}, err
	}
	kind, err := KindForLength(len(pub))
	if err != nil {
		return ServerResult{}, err
	}
	var shared, serverPub []byte
	switch kind {
	case X25519:
		shared, serverPub, err = x25519Exchange(pub, rand)
	case MLKEM768:
		shared, serverPub, err = mlkemEncapsulate(pub, rand)
	case XWing:
		shared, serverPub, err = xwingEncapsulate(pub, rand)
	}
	if err != nil {
		return ServerResult{}, err
	}
	defer clear(shared)
	key, err := deriveKey(shared, accessJTI)
	if err != nil {
		return ServerResult{}, err
	}
	defer clear(key)
	buf := make([]byte, SessionKeySize+chacha20poly1305.NonceSize)
	if _, err := io.ReadFull(rand, buf); err != nil {
		return ServerResult{}, fmt.Errorf("kex: reading randomness: %w", err)
	}
	sessionKey, nonce := buf[:SessionKeySize:SessionKeySize], buf[SessionKeySize:]
	sealed, err := seal(key, nonce, sessionKey, accessJTI)
	if err != nil {
		return ServerResult{}, err
	}
	return ServerResult{Kind: kind, ServerPublicKey: serverPub, EncryptedSessionKey: sealed, SessionKey: sessionKey}, nil
}

var cryptoRand io.Reader = crand.Reader

func x25519Exchange(clientPub []byte, rand io.Reader) (shared, serverPub []byte, err error) {
	peer, err := ecdh.X25519().NewPublicKey(clientPub)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: x25519: %w", ErrInvalidKey, err)
	}
	// The private key is read from rand directly (not ecdh GenerateKey, which
	// ignores its reader since Go 1.26) so tests can be deterministic.
	var seed [32]byte
	defer clear(seed[:])
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, nil, fmt.Errorf("kex: reading randomness: %w", err)
	}
	priv, err := ecdh.X25519().NewPrivateKey(seed[:])
	if err != nil {
		return nil, nil, fmt.Errorf("kex: x25519: %w", err)
	}
	shared, err = priv.ECDH(peer) // fails on low-order points (all-zero output)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: x25519: %w", ErrInvalidKey, err)
	}
	return shared, priv.PublicKey().Bytes(), nil
}

func mlkemEncapsulate(clientPub []byte, rand io.Reader) (shared, ct []byte, err error) {
	var pk mlkem768.PublicKey
	if err := pk.Unpack(clientPub); err != nil {
		return nil, nil, fmt.Errorf("%w: ml-kem-768: %w", ErrInvalidKey, err)
	}
	seed := make([]byte, mlkem768.EncapsulationSeedSize)
	defer clear(seed)
	if _, err := io.ReadFull(rand, seed); err != nil {
		return nil, nil, fmt.Errorf("kex: reading randomness: %w", err)
	}
	ct = make([]byte, mlkem768.CiphertextSize)
	shared = make([]byte, mlkem768.SharedKeySize)
	pk.EncapsulateTo(ct, shared, seed)
	return shared, ct, nil
}

func xwingEncapsulate(clientPub []byte, rand io.Reader) (shared, ct []byte, err error) {
	var pk xwing.PublicKey
	if err := pk.Unpack(clientPub); err != nil { // length checked by caller
		return nil, nil, fmt.Errorf("%w: x-wing: %w", ErrInvalidKey, err)
	}
	seed := make([]byte, xwing.EncapsulationSeedSize)
	defer clear(seed)
	if _, err := io.ReadFull(rand, seed); err != nil {
		return nil, nil, fmt.Errorf("kex: reading randomness: %w", err)
	}
	ct = make([]byte, xwing.CiphertextSize)
	shared = make([]byte, xwing.SharedKeySize)
	pk.EncapsulateTo(ct, shared, seed)
	return shared, ct, nil
}
