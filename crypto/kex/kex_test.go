package kex

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/cloudflare/circl/kem/xwing"
)

func TestRoundTripIndependentClient(t *testing.T) {
	for _, kind := range allKinds {
		for name, enc := range b64Variants {
			t.Run(string(kind)+"/"+name, func(t *testing.T) {
				c := newRefClient(t, kind, nil)
				res, err := ServerExchange(enc.EncodeToString(c.pub), "jti-123", nil)
				if err != nil {
					t.Fatal(err)
				}
				if res.Kind != kind {
					t.Fatalf("kind = %q, want %q", res.Kind, kind)
				}
				if got, want := len(res.ServerPublicKey), kind.serverPublicKeySize(); got != want {
					t.Fatalf("server public key %d bytes, want %d", got, want)
				}
				if len(res.EncryptedSessionKey) != 60 || len(res.SessionKey) != 32 {
					t.Fatalf("sizes: enc %d, session %d", len(res.EncryptedSessionKey), len(res.SessionKey))
				}
				// Decode through the wire form to check the base64 helpers.
				spk, _ := base64.StdEncoding.DecodeString(res.ServerPublicKeyBase64())
				esk, _ := base64.StdEncoding.DecodeString(res.EncryptedSessionKeyBase64())
				got, err := c.open(spk, esk, "jti-123")
				if err != nil {
					t.Fatalf("independent client cannot open: %v", err)
				}
				if !bytes.Equal(got, res.SessionKey) {
					t.Fatal("session keys differ")
				}
			})
		}
	}
}

func TestRoundTripClientKey(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(string(kind), func(t *testing.T) {
			c, err := NewClientKey(kind, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind() != kind || len(c.PublicKey()) != len(mustDecode(t, c.PublicKeyBase64())) {
				t.Fatal("client key accessors disagree")
			}
			res, err := ServerExchange(c.PublicKeyBase64(), "a", nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.OpenSessionKey(res.ServerPublicKey, res.EncryptedSessionKey, "a")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, res.SessionKey) {
				t.Fatal("session keys differ")
			}
		})
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDeterministic(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(string(kind), func(t *testing.T) {
			c1, _ := NewClientKey(kind, detRand(1))
			c2, _ := NewClientKey(kind, detRand(1))
			if c1.PublicKeyBase64() != c2.PublicKeyBase64() {
				t.Fatal("NewClientKey not deterministic")
			}
			r1, err1 := ServerExchange(c1.PublicKeyBase64(), "j", detRand(2))
			r2, err2 := ServerExchange(c1.PublicKeyBase64(), "j", detRand(2))
			r3, err3 := ServerExchange(c1.PublicKeyBase64(), "j", detRand(3))
			if err := errors.Join(err1, err2, err3); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r1.ServerPublicKey, r2.ServerPublicKey) ||
				!bytes.Equal(r1.EncryptedSessionKey, r2.EncryptedSessionKey) ||
				!bytes.Equal(r1.SessionKey, r2.SessionKey) {
				t.Fatal("ServerExchange not deterministic for a fixed reader")
			}
			if bytes.Equal(r1.ServerPublicKey, r3.ServerPublicKey) || bytes.Equal(r1.SessionKey, r3.SessionKey) {
				t.Fatal("different randomness gave the same result")
			}
		})
	}
}

func TestKindForLength(t *testing.T) {
	for n, want := range map[int]Kind{32: X25519, 1184: MLKEM768, 1216: XWing} {
		if got, err := KindForLength(n); err != nil || got != want {
			t.Errorf("KindForLength(%d) = %q, %v", n, got, err)
		}
	}
}

func TestWrongSizes(t *testing.T) {
	for _, n := range []int{0, 1, 31, 33, 64, 1183, 1185, 1215, 1217, 1500} {
		if _, err := KindForLength(n); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("KindForLength(%d) err = %v", n, err)
		}
		key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, n))
		if _, err := ServerExchange(key, "j", nil); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ServerExchange(%d bytes) err = %v, want ErrInvalidKey", n, err)
		}
	}
}

func TestBadBase64(t *testing.T) {
	for _, s := range []string{"", "   ", "!!!!", "a", "abc$", "Zm9v=Zm9v", strings.Repeat("A", 4000)} {
		if _, err := ServerExchange(s, "j", nil); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ServerExchange(%.20q) err = %v, want ErrInvalidKey", s, err)
		}
	}
}

// Low-order Curve25519 points (u-coordinates, little endian), as in
// libsodium's blocklist; each also with the ignored top bit set.
var lowOrder = []string{
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}

func TestLowOrderX25519(t *testing.T) {
	for _, h := range lowOrder {
		p, _ := hex.DecodeString(h)
		for _, top := range []byte{0, 0x80} {
			q := bytes.Clone(p)
			q[31] |= top
			if _, err := ServerExchange(base64.StdEncoding.EncodeToString(q), "j", nil); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("point %x: err = %v, want ErrInvalidKey", q, err)
			}
		}
	}
	// The client rejects a low-order server key too.
	c, _ := NewClientKey(X25519, nil)
	if _, err := c.OpenSessionKey(make([]byte, 32), make([]byte, 60), "j"); !errors.Is(err, ErrDecrypt) {
		t.Errorf("client with zero server key: %v", err)
	}
}

func TestMLKEMModulusCheck(t *testing.T) {
	for _, kind := range []Kind{MLKEM768, XWing} {
		c, _ := NewClientKey(kind, nil)
		pub := c.PublicKey()
		pub[0], pub[1] = 0xff, 0x0f // first coefficient 4095 >= q
		if _, err := ServerExchange(base64.StdEncoding.EncodeToString(pub), "j", nil); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s with out-of-range coefficient: err = %v", kind, err)
		}
	}
}

func TestTamper(t *testing.T) {
	for _, kind := range allKinds {
		c, err := NewClientKey(kind, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := ServerExchange(c.PublicKeyBase64(), "jti", nil)
		if err != nil {
			t.Fatal(err)
		}
		ref := newRefClient(t, kind, nil) // unrelated client: wrong key
		flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 1; return b }
		cases := map[string]struct {
			spk, esk []byte
			jti      string
		}{
			"nonce":       {res.ServerPublicKey, flip(res.EncryptedSessionKey, 0), "jti"},
			"ciphertext":  {res.ServerPublicKey, flip(res.EncryptedSessionKey, 20), "jti"},
			"tag":         {res.ServerPublicKey, flip(res.EncryptedSessionKey, 59), "jti"},
			"aad":         {res.ServerPublicKey, res.EncryptedSessionKey, "jtj"},
			"server key":  {flip(res.ServerPublicKey, 5), res.EncryptedSessionKey, "jti"},
			"truncated":   {res.ServerPublicKey, res.EncryptedSessionKey[:59], "jti"},
			"extended":    {res.ServerPublicKey, append(bytes.Clone(res.EncryptedSessionKey), 0), "jti"},
			"short spk":   {res.ServerPublicKey[1:], res.EncryptedSessionKey, "jti"},
			"empty":       {nil, nil, "jti"},
			"empty jti":   {res.ServerPublicKey, res.EncryptedSessionKey, ""},
			"unencrypted": {res.ServerPublicKey, make([]byte, 60), "jti"},
		}
		for name, tc := range cases {
			if _, err := c.OpenSessionKey(tc.spk, tc.esk, tc.jti); err == nil {
				t.Errorf("%s/%s: ClientKey opened a tampered key", kind, name)
			}
			if name != "empty jti" {
				if _, err := ref.open(tc.spk, tc.esk, tc.jti); err == nil {
					t.Errorf("%s/%s: reference client opened a tampered key", kind, name)
				}
			}
		}
		if _, err := ref.open(res.ServerPublicKey, res.EncryptedSessionKey, "jti"); err == nil {
			t.Errorf("%s: a different client opened the session key", kind)
		}
	}
}

func TestEmptyJTI(t *testing.T) {
	c, _ := NewClientKey(X25519, nil)
	if _, err := ServerExchange(c.PublicKeyBase64(), "", nil); !errors.Is(err, ErrEmptyJTI) {
		t.Fatalf("err = %v", err)
	}
}

func TestRandomnessFailure(t *testing.T) {
	for _, kind := range allKinds {
		c, _ := NewClientKey(kind, nil)
		for _, n := range []int{0, 10, 40, 70} {
			if _, err := ServerExchange(c.PublicKeyBase64(), "j", &failReader{n: n}); err == nil {
				t.Errorf("%s: no error with %d bytes of entropy", kind, n)
			}
		}
		if _, err := NewClientKey(kind, &failReader{n: 5}); err == nil {
			t.Errorf("%s: NewClientKey without entropy", kind)
		}
	}
	if _, err := NewClientKey("rsa", nil); err == nil {
		t.Error("unknown kind accepted")
	}
	if _, err := GenerateStaticKey(&failReader{}); err == nil {
		t.Error("GenerateStaticKey without entropy")
	}
}

func TestStaticKey(t *testing.T) {
	s, err := GenerateStaticKey(detRand(7))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.MarshalBinary()
	if len(b) != 32 {
		t.Fatalf("marshalled %d bytes", len(b))
	}
	s2, err := UnmarshalStaticKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.PublicKey(), s2.PublicKey()) || len(s.PublicKey()) != 1216 {
		t.Fatal("public key changed across marshal")
	}
	if k, _ := KindForLength(len(s.PublicKey())); k != XWing {
		t.Fatal("static key is not an X-Wing key")
	}
	ss, ct, err := xwing.Encapsulate(s.PublicKey(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Decapsulate(ct)
	if err != nil || !bytes.Equal(got, ss) {
		t.Fatalf("decapsulate: %v", err)
	}
	if _, err := s.Decapsulate(ct[1:]); err == nil {
		t.Error("short ciphertext accepted")
	}
	for _, n := range []int{0, 31, 33, 64} {
		if _, err := UnmarshalStaticKey(make([]byte, n)); !errors.Is(err, ErrInvalidStaticKey) {
			t.Errorf("UnmarshalStaticKey(%d bytes) err = %v", n, err)
		}
	}
}
