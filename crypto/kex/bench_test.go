package kex

import "testing"

func BenchmarkServerExchange(b *testing.B) {
	for _, kind := range allKinds {
		b.Run(string(kind), func(b *testing.B) {
			c, err := NewClientKey(kind, nil)
			if err != nil {
				b.Fatal(err)
			}
			pub := c.PublicKeyBase64()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ServerExchange(pub, "0123456789abcdef", nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkClientOpen(b *testing.B) {
	for _, kind := range allKinds {
		b.Run(string(kind), func(b *testing.B) {
			c, _ := NewClientKey(kind, nil)
			res, err := ServerExchange(c.PublicKeyBase64(), "j", nil)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := c.OpenSessionKey(res.ServerPublicKey, res.EncryptedSessionKey, "j"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
