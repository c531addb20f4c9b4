package kex

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	mrand "math/rand/v2"
	"testing"

	"github.com/cloudflare/circl/kem/mlkem/mlkem768"
	"github.com/cloudflare/circl/kem/xwing"
	"golang.org/x/crypto/chacha20poly1305"
)

// detRand returns a deterministic randomness source.
func detRand(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return mrand.NewChaCha8(s)
}

// failReader fails after n bytes.
type failReader struct{ n int }

func (f *failReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("entropy exhausted")
	}
	k := min(len(p), f.n)
	clear(p[:k])
	f.n -= k
	return k, nil
}

// refClient is an independent client written against circl, crypto/ecdh,
// crypto/hkdf and chacha20poly1305 directly, following DESIGN §6 literally.
type refClient struct {
	kind Kind
	pub  []byte
	x    *ecdh.PrivateKey
	m    *mlkem768.PrivateKey
	w    []byte // packed X-Wing private key (seed)
}

func newRefClient(t testing.TB, kind Kind, rnd io.Reader) *refClient {
	t.Helper()
	c := &refClient{kind: kind}
	switch kind {
	case X25519:
		k, err := ecdh.X25519().GenerateKey(rnd)
		if err != nil {
			t.Fatal(err)
		}
		c.x, c.pub = k, k.PublicKey().Bytes()
	case MLKEM768:
		pk, sk, err := mlkem768.GenerateKeyPair(rnd)
		if err != nil {
			t.Fatal(err)
		}
		c.m = sk
		c.pub, _ = pk.MarshalBinary()
	case XWing:
		sk, pk, err := xwing.GenerateKeyPairPacked(rnd)
		if err != nil {
			t.Fatal(err)
		}
		c.w, c.pub = sk, pk
	}
	return c
}

func (c *refClient) open(serverPub, enc []byte, jti string) ([]byte, error) {
	var shared []byte
	switch c.kind {
	case X25519:
		peer, err := ecdh.X25519().NewPublicKey(serverPub)
		if err != nil {
			return nil, err
		}
		if shared, err = c.x.ECDH(peer); err != nil {
			return nil, err
		}
	case MLKEM768:
		ss, err := mlkem768.Scheme().Decapsulate(c.m, serverPub)
		if err != nil {
			return nil, err
		}
		shared = ss
	case XWing:
		if len(serverPub) != xwing.CiphertextSize {
			return nil, errors.New("bad ct size")
		}
		shared = xwing.Decapsulate(serverPub, c.w)
	}
	key, err := hkdf.Key(sha256.New, shared, nil, "revocd/refresh/v1"+jti, 32)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, err
	}
	if len(enc) < 12 {
		return nil, errors.New("short")
	}
	return aead.Open(nil, enc[:12], enc[12:], []byte(jti))
}

var allKinds = []Kind{X25519, MLKEM768, XWing}

var b64Variants = map[string]*base64.Encoding{
	"std": base64.StdEncoding, "rawstd": base64.RawStdEncoding,
	"url": base64.URLEncoding, "rawurl": base64.RawURLEncoding,
}
