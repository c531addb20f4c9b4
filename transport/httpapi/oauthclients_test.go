package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/index"
)

const oauthAdminKey = "admin-key-0123456789"

// newOAuthTestAPI is a production-mode API with two registered clients,
// "rs1" and "gw:x y" (an id that needs form-encoding in Basic).
func newOAuthTestAPI(t *testing.T, dev bool) *API {
	t.Helper()
	ix := index.New(index.Options{})
	ix.SetReady()
	return newTestAPI(t, Deps{Options: Options{
		Dev: dev, AdminAPIKeys: []string{oauthAdminKey}, PublicBaseURL: "https://auth.example.com/revocd",
		OAuthClients: map[string][32]byte{
			"rs1":    sha256.Sum256([]byte("rs1-secret-0123456789abcdef0123456789")),
			"gw:x y": sha256.Sum256([]byte("gw/secret+&=%")),
			"plus":   sha256.Sum256([]byte("a+b/c==")),
		},
	}, Index: ix})
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// serveOAuth runs one request through the API's handler.
func serveOAuth(a *API, method, path, auth, ctype, body string) *fasthttp.Response {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(path)
	if auth != "" {
		ctx.Request.Header.Set("Authorization", auth)
	}
	if ctype != "" {
		ctx.Request.Header.SetContentType(ctype)
	}
	ctx.Request.SetBodyString(body)
	a.Handler()(&ctx)
	var resp fasthttp.Response
	ctx.Response.CopyTo(&resp)
	return &resp
}

// TestOAuthClientAuthentication: the OAuth endpoints accept a registered
// client's credentials (client_secret_basic, client_secret_post) and the
// admin key, and refuse everything else with RFC 6749 §5.2 errors.
// Before registered clients, every client-credential row answered 401.
func TestOAuthClientAuthentication(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	rs1 := "rs1-secret-0123456789abcdef0123456789"
	tests := []struct {
		name      string
		auth      string
		body      string
		status    int
		errorCode string // "error" member of an RFC 6749 error
		challenge string // WWW-Authenticate prefix
	}{
		{name: "basic", auth: basic("rs1", rs1), body: "token=x", status: 200},
		{name: "basic, form-encoded id and secret", auth: basic("gw:x y", "gw/secret+&=%"), body: "token=x", status: 200},
		{name: "basic, not form-encoded (curl -u)", auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("gw:x y:gw/secret+&=%")), body: "token=x", status: 401, errorCode: "invalid_client", challenge: "Basic"},
		{name: "basic, raw secret with +", auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("plus:a+b/c==")), body: "token=x", status: 200},
		{name: "basic, form-encoded secret with +", auth: basic("plus", "a+b/c=="), body: "token=x", status: 200},
		{name: "basic, lower-case scheme", auth: "basic " + strings.TrimPrefix(basic("rs1", rs1), "Basic "), body: "token=x", status: 200},
		{name: "basic, client_id also in body", auth: basic("rs1", rs1), body: "token=x&client_id=rs1", status: 200},
		{name: "post", body: "token=x&client_id=rs1&client_secret=" + url.QueryEscape(rs1), status: 200},
		{name: "admin key", auth: "Bearer " + oauthAdminKey, body: "token=x", status: 200},
		{name: "basic, wrong secret", auth: basic("rs1", rs1+"x"), body: "token=x", status: 401, errorCode: "invalid_client", challenge: "Basic"},
		{name: "basic, unknown client", auth: basic("rs2", rs1), body: "token=x", status: 401, errorCode: "invalid_client", challenge: "Basic"},
		{name: "basic, empty secret", auth: basic("rs1", ""), body: "token=x", status: 401, errorCode: "invalid_client", challenge: "Basic"},
		{name: "basic, not base64", auth: "Basic !!!", body: "token=x", status: 401},
		{name: "basic, other client's secret", auth: basic("gw:x y", rs1), body: "token=x", status: 401, errorCode: "invalid_client", challenge: "Basic"},
		{name: "post, wrong secret", body: "token=x&client_id=rs1&client_secret=nope", status: 401, errorCode: "invalid_client", challenge: "Basic"},
		{name: "post, no secret", body: "token=x&client_id=rs1", status: 401, errorCode: "invalid_client"},
		{name: "post, secret as id", body: "token=x&client_id=" + url.QueryEscape(rs1) + "&client_secret=" + url.QueryEscape(rs1), status: 401, errorCode: "invalid_client"},
		{name: "two methods", auth: basic("rs1", rs1), body: "token=x&client_id=rs1&client_secret=" + url.QueryEscape(rs1), status: 400, errorCode: "invalid_request"},
		{name: "basic id differs from body client_id", auth: basic("rs1", rs1), body: "token=x&client_id=gw", status: 400, errorCode: "invalid_request"},
		{name: "secret as bearer", auth: "Bearer " + rs1, body: "token=x", status: 401, challenge: "Bearer"},
		{name: "no credentials", body: "token=x", status: 401, challenge: "Bearer"},
	}
	a := newOAuthTestAPI(t, false)
	for _, path := range []string{"/oauth2/introspect", "/oauth2/revoke"} {
		for _, tc := range tests {
			t.Run(path+" "+tc.name, func(t *testing.T) {
				resp := serveOAuth(a, http.MethodPost, path, tc.auth, form, tc.body)
				if resp.StatusCode() != tc.status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode(), tc.status, resp.Body())
				}
				if tc.status == 200 {
					if path == "/oauth2/introspect" && strings.TrimSpace(string(resp.Body())) != `{"active":false}` {
						t.Fatalf("introspect body %s", resp.Body())
					}
					return
				}
				var m map[string]string
				if err := json.Unmarshal(resp.Body(), &m); err != nil || m["detail"] == "" {
					t.Fatalf("error body %q: want JSON with detail", resp.Body())
				}
				if tc.errorCode != "" && m["error"] != tc.errorCode {
					t.Errorf("error = %q, want %q", m["error"], tc.errorCode)
				}
				if h := string(resp.Header.Peek("WWW-Authenticate")); !strings.HasPrefix(h, tc.challenge) || (tc.status == 401 && h == "") {
					t.Errorf("WWW-Authenticate %q, want a %s challenge", h, tc.challenge)
				}
			})
		}
	}
}

// TestOAuthClientCannotUseAdminEndpoints: client credentials open only the
// OAuth endpoints — never issuance, revocation by sub/kid, key rotation or
// the feed.
func TestOAuthClientCannotUseAdminEndpoints(t *testing.T) {
	a := newOAuthTestAPI(t, false)
	auth := basic("rs1", "rs1-secret-0123456789abcdef0123456789")
	for _, r := range a.routes() {
		if !r.admin {
			continue
		}
		t.Run(r.method+" "+r.name, func(t *testing.T) {
			body := `{"type":"revoke_sub","value":"alice","subject":"alice"}`
			resp := serveOAuth(a, r.method, r.name, auth, "application/json", body)
			if resp.StatusCode() != http.StatusUnauthorized {
				t.Fatalf("status %d with client credentials, want 401: %s", resp.StatusCode(), resp.Body())
			}
		})
	}
	if resp := serveOAuth(a, http.MethodPost, "/revoke", "", "application/x-www-form-urlencoded", "client_id=rs1&client_secret=rs1-secret-0123456789abcdef0123456789"); resp.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("POST /revoke with client_secret_post: status %d, want 401", resp.StatusCode())
	}
}

// TestOAuthEndpointsOpenInDev: --dev keeps the OAuth endpoints open, as the
// other admin endpoints.
func TestOAuthEndpointsOpenInDev(t *testing.T) {
	a := newOAuthTestAPI(t, true)
	if resp := serveOAuth(a, http.MethodPost, "/oauth2/introspect", "", "application/x-www-form-urlencoded", "token=x"); resp.StatusCode() != 200 {
		t.Fatalf("dev introspect without credentials: %d %s", resp.StatusCode(), resp.Body())
	}
}

// TestAuthorizationServerMetadata: RFC 8414 metadata at the well-known
// path, issuer and endpoints under PublicBaseURL; absent (404) without a
// PublicBaseURL.
func TestAuthorizationServerMetadata(t *testing.T) {
	a := newOAuthTestAPI(t, false)
	resp := serveOAuth(a, http.MethodGet, "/.well-known/oauth-authorization-server", "", "", "")
	if resp.StatusCode() != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
	}
	var m struct {
		Issuer            string   `json:"issuer"`
		JWKS              string   `json:"jwks_uri"`
		Introspection     string   `json:"introspection_endpoint"`
		IntrospectionAuth []string `json:"introspection_endpoint_auth_methods_supported"`
		Revocation        string   `json:"revocation_endpoint"`
		RevocationAuth    []string `json:"revocation_endpoint_auth_methods_supported"`
		DPoPAlgs          []string `json:"dpop_signing_alg_values_supported"`
		ResponseTypes     []string `json:"response_types_supported"`
	}
	if err := json.Unmarshal(resp.Body(), &m); err != nil {
		t.Fatal(err)
	}
	const base = "https://auth.example.com/revocd"
	methods := []string{"client_secret_basic", "client_secret_post"}
	if m.Issuer != base || m.JWKS != base+"/.well-known/jwks.json" || m.Introspection != base+"/oauth2/introspect" ||
		m.Revocation != base+"/oauth2/revoke" || !slices.Equal(m.IntrospectionAuth, methods) || !slices.Equal(m.RevocationAuth, methods) ||
		!slices.Equal(m.DPoPAlgs, DPoPAlgs) || m.ResponseTypes == nil {
		t.Fatalf("metadata %s", resp.Body())
	}
	// The issuer is configuration, never the request's Host.
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(http.MethodGet)
	ctx.Request.SetRequestURI("http://evil.example/.well-known/oauth-authorization-server")
	ctx.Request.Header.Set("X-Forwarded-Host", "evil.example")
	a.Handler()(&ctx)
	if body := string(ctx.Response.Body()); ctx.Response.StatusCode() != 200 || strings.Contains(body, "evil") || !strings.Contains(body, `"issuer":"`+base+`"`) {
		t.Fatalf("with Host evil.example: %d %s", ctx.Response.StatusCode(), body)
	}
	b := newTestAPI(t, Deps{Options: Options{}, Index: index.New(index.Options{})})
	if resp := serveOAuth(b, http.MethodGet, "/.well-known/oauth-authorization-server", "", "", ""); resp.StatusCode() != 404 {
		t.Fatalf("without PublicBaseURL: status %d, want 404", resp.StatusCode())
	}
}
