package kex

import (
	"errors"
	"fmt"
	"io"

	"github.com/cloudflare/circl/kem/xwing"
)

// StaticKeySize is the size of a marshalled StaticKey (the X-Wing seed).
const StaticKeySize = xwing.SeedSize

// ErrInvalidStaticKey reports a marshalled StaticKey of the wrong size.
var ErrInvalidStaticKey = errors.New("kex: invalid static key")

// StaticKey is the server's long-term X-Wing key pair, advertised as
// "kyber_public_key" by /token/refresh/create. It is persisted as its
// 32-byte seed. A StaticKey is immutable and safe for concurrent use.
type StaticKey struct {
	seed [xwing.SeedSize]byte
	sk   *xwing.PrivateKey
	pub  [xwing.PublicKeySize]byte
}

// GenerateStaticKey generates a StaticKey from 32 bytes of rand
// (crypto/rand.Reader if nil).
func GenerateStaticKey(rand io.Reader) (*StaticKey, error) {
	if rand == nil {
		rand = cryptoRand
	}
	var seed [xwing.SeedSize]byte
	defer clear(seed[:])
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, fmt.Errorf("kex: reading randomness: %w", err)
	}
	return newStaticKey(seed[:]), nil
}

// UnmarshalStaticKey restores a StaticKey from its 32-byte seed as returned
// by MarshalBinary.
func UnmarshalStaticKey(b []byte) (*StaticKey, error) {
	if len(b) != StaticKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidStaticKey, len(b), StaticKeySize)
	}
	return newStaticKey(b), nil
}

func newStaticKey(seed []byte) *StaticKey {
	s := &StaticKey{}
	copy(s.seed[:], seed)
	sk, pk := xwing.DeriveKeyPair(seed)
	s.sk = sk
	pk.Pack(s.pub[:])
	return s
}

// PublicKey returns a copy of the 1216-byte X-Wing public key.
func (s *StaticKey) PublicKey() []byte { return append([]byte(nil), s.pub[:]...) }

// MarshalBinary returns a copy of the 32-byte private seed. It is secret.
func (s *StaticKey) MarshalBinary() ([]byte, error) { return append([]byte(nil), s.seed[:]...), nil }

// Decapsulate returns the X-Wing shared secret for a 1120-byte ciphertext
// encapsulated to PublicKey. A wrong ciphertext yields an unrelated secret
// (implicit rejection), not an error; only a wrong size is an error.
func (s *StaticKey) Decapsulate(ct []byte) ([]byte, error) {
	if len(ct) != xwing.CiphertextSize {
		return nil, fmt.Errorf("%w: ciphertext is %d bytes, want %d", ErrDecrypt, len(ct), xwing.CiphertextSize)
	}
	ss := make([]byte, xwing.SharedKeySize)
	s.sk.DecapsulateTo(ss, ct)
	return ss, nil
}
