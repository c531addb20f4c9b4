package validator

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/revocation"
)

// TestMiddlewares: both middlewares answer 200 with the claims reaching
// the handler, 401 for a missing, invalid or revoked token, and 503 with
// Retry-After while the view is stale.
func TestMiddlewares(t *testing.T) {
	f := newFixture(t, token.AlgEdDSA, time.Hour)
	clock := newClock()
	v := f.open(Options{Now: clock.Now, MaxStaleness: time.Second})
	waitBeat(t, v)
	good := f.issue("alice", time.Hour, "")
	revoked := f.issue("bob", time.Hour, "")
	f.revoke(revocation.TypeSub, "bob", nil)
	waitApplied(t, v, 1)

	std := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := ClaimsFromContext(r.Context())
		if !ok {
			t.Error("no claims in the context")
		}
		_, _ = w.Write([]byte(c.Subject))
	}))
	fast := v.FastHTTPMiddleware(func(ctx *fasthttp.RequestCtx) {
		c, ok := ctx.UserValue(ClaimsUserValue).(Claims)
		if !ok {
			t.Error("no claims in the user value")
		}
		ctx.SetBodyString(c.Subject)
	})
	ln := fasthttputil.NewInmemoryListener()
	go fasthttp.Serve(ln, fast)
	defer ln.Close()
	fc := &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}

	tests := []struct {
		name, auth string
		stale      bool
		want       int
		body       string
	}{
		{"valid", "Bearer " + good, false, 200, "alice"},
		{"no header", "", false, 401, ""},
		{"not bearer", "Basic abc", false, 401, ""},
		{"malformed", "Bearer a.b.c", false, 401, ""},
		{"revoked", "Bearer " + revoked, false, 401, ""},
		{"stale", "Bearer " + good, true, 503, ""},
	}
	for _, tt := range tests {
		if tt.stale {
			clock.Advance(2 * time.Second)
		}
		req := httptest.NewRequest(http.MethodGet, "/protected", nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		w := httptest.NewRecorder()
		std.ServeHTTP(w, req)
		if w.Code != tt.want || (tt.want == 200 && w.Body.String() != tt.body) {
			t.Errorf("net/http %s: %d %q, want %d", tt.name, w.Code, w.Body.String(), tt.want)
		}
		if tt.want == 503 && w.Header().Get("Retry-After") == "" {
			t.Errorf("net/http %s: no Retry-After", tt.name)
		}
		freq, fres := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		freq.SetRequestURI("http://x/protected")
		if tt.auth != "" {
			freq.Header.Set("Authorization", tt.auth)
		}
		if err := fc.Do(freq, fres); err != nil {
			t.Fatal(err)
		}
		if fres.StatusCode() != tt.want || (tt.want == 200 && string(fres.Body()) != tt.body) {
			t.Errorf("fasthttp %s: %d %q, want %d", tt.name, fres.StatusCode(), fres.Body(), tt.want)
		}
		fasthttp.ReleaseRequest(freq)
		fasthttp.ReleaseResponse(fres)
	}
}
