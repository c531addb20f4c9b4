package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/index"
)

func serve(t *testing.T, a *API, method, path, body string) (int, string) {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(path)
	ctx.Request.SetBodyString(body)
	a.Handler()(&ctx)
	return ctx.Response.StatusCode(), string(ctx.Response.Body())
}

// TestFailsClosedWhileIndexLoads: until the index has finished loading,
// validation answers 503, never "valid".
func TestFailsClosedWhileIndexLoads(t *testing.T) {
	ix := index.New(index.Options{})
	a := newTestAPI(t, Deps{Options: Options{Dev: true, MaxBatchTokens: 10}, Index: ix})
	tests := []struct{ method, path, body string }{
		{"POST", "/token/validate", `{"token":"a.b.c"}`},
		{"POST", "/token/validate/batch", `{"tokens":["a.b.c"]}`},
		{"GET", "/token/inspect?token=a.b.c", ""},
		{"POST", "/token/refresh", `{"refresh_token":"a.b.c","client_binding":"x"}`},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			code, body := serve(t, a, tc.method, tc.path, tc.body)
			if code != http.StatusServiceUnavailable || strings.Contains(body, `"valid":true`) || !strings.Contains(body, "detail") {
				t.Fatalf("%s %s = %d %s, want 503", tc.method, tc.path, code, body)
			}
		})
	}
}

func TestAdminAuthConstantTimeAndCaseInsensitiveScheme(t *testing.T) {
	a := newTestAPI(t, Deps{Options: Options{AdminAPIKeys: []string{"first-key-0123456789", "second-key-0123456789"}}, Index: index.New(index.Options{})})
	tests := []struct {
		header string
		want   bool
	}{
		{"Bearer first-key-0123456789", true},
		{"bearer second-key-0123456789", true},
		{"Bearer first-key-012345678", false},
		{"Basic first-key-0123456789", false},
		{"Bearer ", false},
		{"", false},
	}
	for _, tc := range tests {
		var ctx fasthttp.RequestCtx
		if tc.header != "" {
			ctx.Request.Header.Set("Authorization", tc.header)
		}
		if got := a.authorized(&ctx); got != tc.want {
			t.Errorf("authorized(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}
