package token

import (
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// benchSpec is a typical access token.
var benchSpec = Spec{Subject: "user-12345", JTI: "5f0c4a0e-8c1b-4d7e-9a43-1b2c3d4e5f60", TTL: 15 * time.Minute, Extra: map[string]any{"scope": "read write"}}

func BenchmarkVerify(b *testing.B) {
	type variant struct {
		name    string
		alg     Algorithm
		cache   int
		jwtHMAC bool
	}
	vs := []variant{{"HS256", AlgHS256, 0, false}, {"HS256-golangjwt-Verify", AlgHS256, 0, true}}
	for _, alg := range allAlgs[1:] {
		vs = append(vs, variant{string(alg), alg, 0, false}, variant{string(alg) + "-cache", alg, 1024, false})
	}
	vs = append(vs, variant{name: "HS256-legacy-no-kid", alg: AlgHS256})
	for _, v := range vs {
		b.Run(v.name, func(b *testing.B) {
			f := newFixture(b, VerifierOptions{Issuer: "revocd", CacheSize: v.cache})
			f.ver.jwtHMAC = v.jwtHMAC
			tok := []byte(f.issue(b, v.alg, benchSpec))
			if v.name == "HS256-legacy-no-kid" { // a seed-era token, current key EdDSA
				f.ring.Rotate(f.keys[AlgEdDSA], time.Time{})
				f.ring.SetLegacy(f.keys[AlgHS256])
				tok = []byte(seedToken(b, f.keys[AlgHS256], t0.Add(time.Hour)))
			}
			var tk Token
			b.ReportAllocs()
			b.SetBytes(int64(len(tok)))
			for b.Loop() {
				if err := f.ver.Verify(tok, &tk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyParallelHS256 measures the hot path from all cores, one
// reused Token per goroutine.
func BenchmarkVerifyParallelHS256(b *testing.B) {
	f := newFixture(b, VerifierOptions{Issuer: "revocd"})
	tok := []byte(f.issue(b, AlgHS256, benchSpec))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var tk Token
		for pb.Next() {
			if err := f.ver.Verify(tok, &tk); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkParseUnverified(b *testing.B) {
	f := newFixture(b, VerifierOptions{})
	tok := []byte(f.issue(b, AlgHS256, benchSpec))
	var tk Token
	b.ReportAllocs()
	for b.Loop() {
		if err := f.ver.ParseUnverified(tok, &tk); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGolangJWTParseHS256 is the reference: golang-jwt's generic
// jwt.Parse with the equivalent checks.
func BenchmarkGolangJWTParseHS256(b *testing.B) {
	f := newFixture(b, VerifierOptions{})
	tok := f.issue(b, AlgHS256, benchSpec)
	k := f.keys[AlgHS256]
	keyFunc := func(*jwt.Token) (any, error) { return k.m.verifyKey, nil }
	p := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("revocd"),
		jwt.WithTimeFunc(f.clk.Now), jwt.WithExpirationRequired())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse(tok, keyFunc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	for _, alg := range allAlgs {
		b.Run(string(alg), func(b *testing.B) {
			f := newFixture(b, VerifierOptions{})
			is := &Issuer{Ring: NewRing(f.keys[alg]), Issuer: "revocd", Now: f.clk.Now}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := is.Issue(benchSpec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func ExampleVerifier_Verify() {
	key, _ := NewHMACKey("default", []byte("0123456789abcdef0123456789abcdef"))
	ring := NewRing(key)
	clk := &clock{t: t0}
	is := &Issuer{Ring: ring, Issuer: "revocd", Now: clk.Now}
	tok, _, _ := is.Issue(Spec{Subject: "alice", TTL: 15 * 60e9, JTI: "j-1"})

	v := NewVerifier(ring, VerifierOptions{Issuer: "revocd", Now: clk.Now})
	var t Token // reuse one per goroutine
	err := v.Verify([]byte(tok), &t)
	fmt.Println(err, string(t.Sub), string(t.JTI), t.Exp-t.Iat)
	// Output: <nil> alice j-1 900
}
