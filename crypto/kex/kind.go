package kex

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/cloudflare/circl/kem/mlkem/mlkem768"
	"github.com/cloudflare/circl/kem/xwing"
)

// Kind names the key-exchange algorithm selected by the length of the
// client's public key.
type Kind string

// The supported kinds.
const (
	// X25519 is ephemeral-ephemeral X25519 Diffie-Hellman.
	X25519 Kind = "x25519"
	// MLKEM768 is ML-KEM-768 encapsulation to the client's ephemeral key.
	MLKEM768 Kind = "ml-kem-768"
	// XWing is X-Wing (ML-KEM-768 + X25519 hybrid) encapsulation to the
	// client's ephemeral key.
	XWing Kind = "x-wing"
)

// Public key and server_public_key sizes per kind, in bytes.
const (
	X25519PublicKeySize   = 32
	MLKEM768PublicKeySize = mlkem768.PublicKeySize // 1184
	XWingPublicKeySize    = xwing.PublicKeySize    // 1216

	MLKEM768CiphertextSize = mlkem768.CiphertextSize // 1088
	XWingCiphertextSize    = xwing.CiphertextSize    // 1120
)

// maxEncodedKeyLen bounds the base64 text accepted before decoding.
const maxEncodedKeyLen = 2048

// ErrInvalidKey reports an unusable client public key: bad base64, a length
// of no known kind, an ML-KEM key failing the modulus check, or an X25519
// point of low order (all-zero shared secret). Returned errors wrap it with
// detail.
var ErrInvalidKey = errors.New("kex: invalid client public key")

// KindForLength returns the kind of a decoded public key of n bytes, or an
// error wrapping ErrInvalidKey.
func KindForLength(n int) (Kind, error) {
	switch n {
	case X25519PublicKeySize:
		return X25519, nil
	case MLKEM768PublicKeySize:
		return MLKEM768, nil
	case XWingPublicKeySize:
		return XWing, nil
	}
	return "", fmt.Errorf("%w: %d bytes matches no kind (want 32, 1184 or 1216)", ErrInvalidKey, n)
}

// serverPublicKeySize returns the size of server_public_key for k.
func (k Kind) serverPublicKeySize() int {
	switch k {
	case X25519:
		return X25519PublicKeySize
	case MLKEM768:
		return MLKEM768CiphertextSize
	case XWing:
		return XWingCiphertextSize
	}
	return -1
}

// decodeKey decodes standard or URL base64, padded or not.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if len(s) > maxEncodedKeyLen {
		return nil, fmt.Errorf("%w: %d base64 characters is too long", ErrInvalidKey, len(s))
	}
	var firstErr error
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		b, err := enc.DecodeString(s)
		if err == nil {
			return b, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, fmt.Errorf("%w: bad base64: %w", ErrInvalidKey, firstErr)
}
