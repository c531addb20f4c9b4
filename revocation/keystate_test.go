package revocation

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func validKeyState() KeyState {
	return KeyState{V: KeyStateVersion, Kid: "ed-0123", Alg: KeyAlgEdDSA,
		JWK:   []byte(`{"kty":"OKP","crv":"Ed25519","x":"abc","kid":"ed-0123","alg":"EdDSA","use":"sig"}`),
		State: KeyActive, CreatedAt: 1_700_000_000_000}
}

func TestKeyStateRoundTrip(t *testing.T) {
	hs := KeyState{V: 1, Kid: "hs-01", Alg: KeyAlgHS256, Sealed: []byte{1, 2, 3}, State: KeyRetired, CreatedAt: 1, VerifyUntil: 2}
	for _, k := range []KeyState{validKeyState(), hs} {
		b, err := k.Marshal()
		if err != nil {
			t.Fatalf("Marshal(%s): %v", k.Kid, err)
		}
		got, err := UnmarshalKeyState(b)
		if err != nil {
			t.Fatalf("UnmarshalKeyState(%s): %v", b, err)
		}
		if got.Kid != k.Kid || got.Alg != k.Alg || !bytes.Equal(got.JWK, k.JWK) || !bytes.Equal(got.Sealed, k.Sealed) ||
			got.State != k.State || got.CreatedAt != k.CreatedAt || got.VerifyUntil != k.VerifyUntil {
			t.Fatalf("round trip: %+v, want %+v", got, k)
		}
	}
}

func TestKeyStateRejects(t *testing.T) {
	mod := func(f func(*KeyState)) KeyState { k := validKeyState(); f(&k); return k }
	cases := map[string]KeyState{
		"version 0":             mod(func(k *KeyState) { k.V = 0 }),
		"version 2":             mod(func(k *KeyState) { k.V = 2 }),
		"empty kid":             mod(func(k *KeyState) { k.Kid = "" }),
		"long kid":              mod(func(k *KeyState) { k.Kid = strings.Repeat("k", MaxKeyIDLen+1) }),
		"kid not utf-8":         mod(func(k *KeyState) { k.Kid = "\xff" }),
		"unknown alg":           mod(func(k *KeyState) { k.Alg = "RS256" }),
		"alg none":              mod(func(k *KeyState) { k.Alg = "none" }),
		"asymmetric sealed":     mod(func(k *KeyState) { k.Sealed = []byte{1} }),
		"asymmetric no jwk":     mod(func(k *KeyState) { k.JWK = nil }),
		"jwk not an object":     mod(func(k *KeyState) { k.JWK = []byte(`"x"`) }),
		"hs256 with jwk":        mod(func(k *KeyState) { k.Alg, k.Sealed = KeyAlgHS256, []byte{1} }),
		"hs256 unsealed":        mod(func(k *KeyState) { k.Alg, k.JWK = KeyAlgHS256, nil }),
		"hs256 oversize sealed": mod(func(k *KeyState) { k.Alg, k.JWK, k.Sealed = KeyAlgHS256, nil, make([]byte, maxSealedLen+1) }),
		"unknown state":         mod(func(k *KeyState) { k.State = "revoked" }),
		"no created_at":         mod(func(k *KeyState) { k.CreatedAt = 0 }),
		"negative verify_until": mod(func(k *KeyState) { k.VerifyUntil = -1 }),
		"retired forever":       mod(func(k *KeyState) { k.State = KeyRetired }),
		"oversize jwk":          mod(func(k *KeyState) { k.JWK = []byte(`{"x":"` + strings.Repeat("a", MaxDataLen) + `"}`) }),
	}
	for name, k := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := k.Marshal(); !errors.Is(err, ErrKeyState) {
				t.Fatalf("Marshal = %v, want ErrKeyState", err)
			}
		})
	}
	good, err := func() ([]byte, error) { k := validKeyState(); return k.Marshal() }()
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string][]byte{
		"not json":      []byte("\x00garbage"),
		"array":         []byte(`[1]`),
		"unknown field": append(bytes.TrimSuffix(good, []byte("}")), []byte(`,"private":"d"}`)...),
		"trailing data": append(append([]byte{}, good...), good...),
		"wrong type":    bytes.Replace(good, []byte(`"v":1`), []byte(`"v":"1"`), 1),
		"oversize":      append(append([]byte{}, good...), bytes.Repeat([]byte(" "), MaxDataLen)...),
	}
	for name, b := range raw {
		t.Run(name, func(t *testing.T) {
			if _, err := UnmarshalKeyState(b); !errors.Is(err, ErrKeyState) {
				t.Fatalf("UnmarshalKeyState = %v, want ErrKeyState", err)
			}
		})
	}
}
