package kex

import (
	"encoding/base64"
	"testing"
)

func FuzzServerExchange(f *testing.F) {
	for _, kind := range allKinds {
		c, _ := NewClientKey(kind, detRand(1))
		f.Add(c.PublicKeyBase64(), "jti")
	}
	f.Add(base64.StdEncoding.EncodeToString(make([]byte, 32)), "j")
	f.Add("", "")
	f.Add("====", "x")
	f.Fuzz(func(t *testing.T, key, jti string) {
		res, err := ServerExchange(key, jti, detRand(2))
		if err != nil {
			return
		}
		if len(res.ServerPublicKey) != res.Kind.serverPublicKeySize() ||
			len(res.EncryptedSessionKey) != EncryptedSessionKeySize || len(res.SessionKey) != SessionKeySize {
			t.Fatalf("bad result sizes for kind %q", res.Kind)
		}
	})
}
