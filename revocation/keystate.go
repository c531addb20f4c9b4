package revocation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// KeyStateVersion is the version of the KeyState payload this package
// writes and the only one it reads.
const KeyStateVersion = 1

// MaxKeyIDLen bounds KeyState.Kid in bytes (token.MaxKeyIDBytes).
const MaxKeyIDLen = 256

// maxSealedLen bounds KeyState.Sealed: a 4,096-byte HS256 secret (the
// longest token.NewHMACKey accepts) plus an AEAD nonce and tag.
const maxSealedLen = 4096 + 64

// KeyStatus is a published signing key's lifecycle state.
type KeyStatus string

// The key states of a KeyState.
const (
	// KeyActive: the key is its origin's current signing key.
	KeyActive KeyStatus = "active"
	// KeyRetired: the origin no longer signs with the key; its tokens
	// verify until VerifyUntil.
	KeyRetired KeyStatus = "retired"
)

// The token algorithms a KeyState may carry (crypto/token's names).
const (
	KeyAlgHS256    = "HS256"
	KeyAlgEdDSA    = "EdDSA"
	KeyAlgES256    = "ES256"
	KeyAlgMLDSA65  = "ML-DSA-65"
	keyStateFields = "v, kid, alg, jwk, sealed, state, created_at, verify_until"
)

// ErrKeyState is wrapped by every error of KeyState.Validate and
// UnmarshalKeyState.
var ErrKeyState = errors.New("revocation: invalid key state")

// KeyState is the payload (Event.Data) of a TypeKeyState event: the public
// part of one token signing key of the event's origin node and its
// lifecycle, so that every node of the cluster verifies the tokens any node
// issued. The event's Value is Kid.
//
// Asymmetric keys (EdDSA, ES256, ML-DSA-65) carry their public JWK in JWK,
// in the form crypto/token writes for /.well-known/jwks.json; their private
// keys never leave their node. HS256 keys carry the secret sealed for the
// cluster in Sealed (the sealing is owned by actors/issuer); JWK is then
// empty.
//
// Times are Unix milliseconds. VerifyUntil is when the key's last token
// expires (0: not known yet, for a key that may still sign); a node forgets
// a received key after it.
type KeyState struct {
	V           int             `json:"v"`
	Kid         string          `json:"kid"`
	Alg         string          `json:"alg"`
	JWK         json.RawMessage `json:"jwk,omitempty"`
	Sealed      []byte          `json:"sealed,omitempty"`
	State       KeyStatus       `json:"state"`
	CreatedAt   int64           `json:"created_at"`
	VerifyUntil int64           `json:"verify_until,omitempty"`
}

// Validate checks the payload's own consistency: the version, a kid of 1 to
// MaxKeyIDLen bytes of UTF-8, a known algorithm, a JWK (a JSON object) for an
// asymmetric algorithm or a sealed secret for HS256 (never both), a known
// state, a positive created_at and a non-negative verify_until (positive for
// a retired key). It does not parse the JWK or open the secret.
func (k *KeyState) Validate() error {
	switch {
	case k.V != KeyStateVersion:
		return fmt.Errorf("%w: version %d, want %d", ErrKeyState, k.V, KeyStateVersion)
	case k.Kid == "" || len(k.Kid) > MaxKeyIDLen || !utf8.ValidString(k.Kid):
		return fmt.Errorf("%w: kid must be 1..%d bytes of UTF-8", ErrKeyState, MaxKeyIDLen)
	case k.State != KeyActive && k.State != KeyRetired:
		return fmt.Errorf("%w: state %q", ErrKeyState, k.State)
	case k.CreatedAt <= 0:
		return fmt.Errorf("%w: created_at %d", ErrKeyState, k.CreatedAt)
	case k.VerifyUntil < 0, k.State == KeyRetired && k.VerifyUntil == 0:
		return fmt.Errorf("%w: verify_until %d for a %s key", ErrKeyState, k.VerifyUntil, k.State)
	}
	switch k.Alg {
	case KeyAlgHS256:
		if len(k.JWK) != 0 || len(k.Sealed) == 0 || len(k.Sealed) > maxSealedLen {
			return fmt.Errorf("%w: an HS256 key carries a sealed secret of 1..%d bytes and no jwk", ErrKeyState, maxSealedLen)
		}
	case KeyAlgEdDSA, KeyAlgES256, KeyAlgMLDSA65:
		if len(k.Sealed) != 0 {
			return fmt.Errorf("%w: a %s key carries no sealed secret", ErrKeyState, k.Alg)
		}
		if t := bytes.TrimSpace(k.JWK); len(t) < 2 || t[0] != '{' || !json.Valid(t) {
			return fmt.Errorf("%w: a %s key carries its public jwk (a JSON object)", ErrKeyState, k.Alg)
		}
	default:
		return fmt.Errorf("%w: algorithm %q", ErrKeyState, k.Alg)
	}
	return nil
}

// Marshal validates k and returns its encoding, at most MaxDataLen bytes.
func (k *KeyState) Marshal() ([]byte, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(k)
	if err != nil {
		return nil, fmt.Errorf("%w: encode: %w", ErrKeyState, err)
	}
	if len(b) > MaxDataLen {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrKeyState, len(b), MaxDataLen)
	}
	return b, nil
}

// UnmarshalKeyState decodes and validates a KeyState. It is strict: more
// than MaxDataLen bytes, anything but one JSON object, unknown fields and
// wrong JSON types are errors wrapping ErrKeyState. It is pure and safe for
// concurrent use.
func UnmarshalKeyState(b []byte) (*KeyState, error) {
	if len(b) > MaxDataLen {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrKeyState, len(b), MaxDataLen)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var k KeyState
	if err := dec.Decode(&k); err != nil {
		return nil, fmt.Errorf("%w: decode (fields %s): %w", ErrKeyState, keyStateFields, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrKeyState)
	}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	return &k, nil
}
