package validator

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/revocd/revocd/crypto/token"
)

// BenchmarkValidate is the in-process validation of a warm token (the
// verified-token cache answers for asymmetric algorithms; HS256 computes
// the HMAC every time), with a few revocations in the index.
func BenchmarkValidate(b *testing.B) {
	for _, alg := range []token.Algorithm{token.AlgEdDSA, token.AlgES256, token.AlgMLDSA65, token.AlgHS256} {
		b.Run(string(alg), func(b *testing.B) {
			f := newFixtureB(b, alg)
			opts := Options{MaxStaleness: time.Hour, URLs: []string{f.URL}, APIKey: testFeedKey, Issuer: fixtureIssuer, Logger: quiet}
			if alg == token.AlgHS256 {
				opts.HMACSecret = testSecret
			}
			v, err := New(b.Context(), opts)
			if err != nil {
				b.Fatal(err)
			}
			defer v.Close()
			tok := f.issue("alice", time.Hour, "")
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Validate(tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkMiddleware compares the example's protected handler (net/http
// middleware + Validate + claims body) with a fixed-body handler, both
// in process through httptest recorders.
func BenchmarkMiddleware(b *testing.B) {
	f := newFixtureB(b, token.AlgEdDSA)
	v, err := New(b.Context(), Options{MaxStaleness: time.Hour, URLs: []string{f.URL}, APIKey: testFeedKey, Issuer: fixtureIssuer, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	tok := f.issue("alice", time.Hour, "")
	protected := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := ClaimsFromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(c.Raw)
	}))
	fixed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"sub":"alice"}`))
	})
	for name, h := range map[string]http.Handler{"protected": protected, "fixed": fixed} {
		b.Run(name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/protected", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// BenchmarkHTTP compares, over loopback HTTP with keep-alive, the
// example's protected handler (middleware + Validate + claims body) with
// a fixed-body handler: the issue's target is protected >= 0.8x fixed.
func BenchmarkHTTP(b *testing.B) {
	f := newFixtureB(b, token.AlgEdDSA)
	v, err := New(b.Context(), Options{MaxStaleness: time.Hour, URLs: []string{f.URL}, APIKey: testFeedKey, Issuer: fixtureIssuer, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	tok := f.issue("alice", time.Hour, "")
	handlers := []struct {
		name string
		h    http.Handler
	}{
		{"fixed", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"sub":"alice"}`))
		})},
		{"protected", v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := ClaimsFromContext(r.Context())
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(c.Raw)
		}))},
	}
	for _, hh := range handlers {
		b.Run(hh.name, func(b *testing.B) {
			srv := httptest.NewServer(hh.h)
			defer srv.Close()
			client := srv.Client()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/protected", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			b.ResetTimer()
			for b.Loop() {
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Fatalf("status %d", res.StatusCode)
				}
			}
		})
	}
}

// BenchmarkValidateDPoP is ValidateDPoP of a warm DPoP-bound token with a
// fresh proof per call (made before the timer starts), beside plain
// Validate of a warm bearer token: the difference is the proof's cost
// (parse, signature check, thumbprint, replay cache).
func BenchmarkValidateDPoP(b *testing.B) {
	f := newFixtureB(b, token.AlgEdDSA)
	v, err := New(b.Context(), Options{MaxStaleness: time.Hour, URLs: []string{f.URL}, APIKey: testFeedKey, Issuer: fixtureIssuer,
		Logger: quiet, DPoPReplayCacheSize: 1 << 22})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	b.Run("plain", func(b *testing.B) {
		tok := f.issue("alice", time.Hour, "")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Validate(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, alg := range []string{"ES256", "EdDSA", "ML-DSA-65"} {
		b.Run(alg, func(b *testing.B) {
			key := newProofKey(b, alg)
			tok := f.issueBound("alice", key.jkt(b))
			proofs := make([]string, b.N)
			now := time.Now()
			for i := range proofs {
				proofs[i] = key.proof("GET", rsURL, tok, now)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := v.ValidateDPoP(tok, proofs[i], "GET", rsURL); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
