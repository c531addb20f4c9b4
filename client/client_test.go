package client

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/revocd/revocd/crypto/kex"
)

// seen is what the fake server received.
type seen struct {
	method, path, query, auth, body string
}

// fake returns a client against a server answering status and body, and
// the record of the last request.
func fake(t *testing.T, status int, body string) (*Client, *seen) {
	t.Helper()
	s := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*s = seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), string(b)}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL+"/", WithAdminKey("admin-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

func TestRequests(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		answer    string
		call      func(c *Client) (any, error)
		method    string
		path      string
		query     string
		admin     bool
		wantBody  string
		checkResp func(t *testing.T, v any)
	}{
		{
			name:   "issue",
			answer: `{"access_token":"a.b.c","token_type":"bearer","expires_in":60,"jti":"j1","subject":"alice"}`,
			call: func(c *Client) (any, error) {
				return c.Issue(ctx, IssueRequest{Subject: "alice", ExpiresMinutes: 1, AdditionalClaims: map[string]any{"role": "x"}})
			},
			method: "POST", path: "/token", admin: true,
			wantBody: `{"subject":"alice","expires_minutes":1,"additional_claims":{"role":"x"}}`,
			checkResp: func(t *testing.T, v any) {
				if r := v.(*IssueResponse); r.JTI != "j1" || r.ExpiresIn != 60 {
					t.Errorf("got %+v", r)
				}
			},
		},
		{
			name:   "validate without revocation check",
			answer: `{"valid":true,"claims":{"exp":1795632223,"sub":"a"},"revoked":false,"message":"ok"}`,
			call:   func(c *Client) (any, error) { return c.Validate(ctx, "tok", false) },
			method: "POST", path: "/token/validate",
			wantBody: `{"token":"tok","check_revocation":false}`,
			checkResp: func(t *testing.T, v any) {
				r := v.(*Validation)
				if !r.Valid || r.Claims["exp"] != json.Number("1795632223") {
					t.Errorf("got %+v (exp must stay an exact number)", r)
				}
			},
		},
		{
			name:   "inspect decodes the header locally",
			answer: `{"claims":{"sub":"a"},"revoked":true,"revocation_reason":"revoked by jti"}`,
			call: func(c *Client) (any, error) {
				return c.Inspect(ctx, "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0.e30.sig")
			},
			method: "GET", path: "/token/inspect", query: "token=eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0.e30.sig", admin: true,
			checkResp: func(t *testing.T, v any) {
				r := v.(*Inspection)
				if r.Header["kid"] != "k1" || !r.Revoked || *r.RevocationReason != "revoked by jti" {
					t.Errorf("got %+v", r)
				}
			},
		},
		{
			name:   "revoke",
			answer: `{"event_id":"e1","published":false}`,
			call: func(c *Client) (any, error) {
				return c.Revoke(ctx, RevokeRequest{Type: RevokeSub, Value: "alice", Reason: "r"})
			},
			method: "POST", path: "/revoke", admin: true,
			wantBody: `{"type":"revoke_sub","value":"alice","reason":"r"}`,
		},
		{
			name:   "refresh revoke sends a bare JSON string",
			answer: `{"event_id":"e2","published":true}`,
			call:   func(c *Client) (any, error) { return c.RevokeRefresh(ctx, "rt") },
			method: "POST", path: "/token/refresh/revoke", wantBody: `"rt"`,
		},
		{
			name:   "refresh create",
			answer: `{"refresh_token":"r","access_token":"a","refresh_jti":"rj","access_jti":"aj","subject":"s"}`,
			call: func(c *Client) (any, error) {
				return c.RefreshCreate(ctx, RefreshCreateRequest{Subject: "s", ClientBinding: "b"})
			},
			method: "POST", path: "/token/refresh/create", admin: true,
			wantBody: `{"subject":"s","client_binding":"b"}`,
		},
		{
			name:   "rotate",
			answer: `{"rotated":true,"kid":"k2"}`,
			call:   func(c *Client) (any, error) { return c.RotateKey(ctx) },
			method: "POST", path: "/admin/keys/rotate", admin: true,
		},
		{
			name:   "events",
			answer: `{"events":[{"event_id":"e","type":"revoke_jti","value":"v","ts":1700000000000,"seq":1}],"next":7}`,
			call:   func(c *Client) (any, error) { return c.Events(ctx, 3, 50) },
			method: "GET", path: "/revocations", query: "after=3&limit=50", admin: true,
			checkResp: func(t *testing.T, v any) {
				if p := v.(*EventPage); p.Next != 7 || len(p.Events) != 1 || p.Events[0].Time().UnixMilli() != 1700000000000 {
					t.Errorf("got %+v", p)
				}
			},
		},
		{
			name:   "jwks is returned as served",
			answer: `{"keys":[]}`,
			call:   func(c *Client) (any, error) { return c.JWKS(ctx) },
			method: "GET", path: "/.well-known/jwks.json",
		},
		{
			name:   "health",
			answer: `{"ok": true}`,
			call:   func(c *Client) (any, error) { return c.Health(ctx) },
			method: "GET", path: "/health",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := fake(t, 200, tt.answer)
			v, err := tt.call(c)
			if err != nil {
				t.Fatal(err)
			}
			if s.method != tt.method || s.path != tt.path || s.query != tt.query {
				t.Errorf("sent %s %s?%s, want %s %s?%s", s.method, s.path, s.query, tt.method, tt.path, tt.query)
			}
			if wantAuth := map[bool]string{true: "Bearer admin-key-0123456789"}[tt.admin]; s.auth != wantAuth {
				t.Errorf("Authorization %q, want %q", s.auth, wantAuth)
			}
			if tt.wantBody != "" && s.body != tt.wantBody {
				t.Errorf("body %s, want %s", s.body, tt.wantBody)
			}
			if tt.checkResp != nil {
				tt.checkResp(t, v)
			}
		})
	}
}

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		status     int
		body, want string
	}{
		{422, `{"detail":"subject: field required"}`, "subject: field required"},
		{401, `{"detail":"Missing or invalid admin API key"}`, "Missing or invalid admin API key"},
		{422, `{"detail":[{"loc":["body","subject"]}]}`, `[{"loc":["body","subject"]}]`},
		{502, `Bad Gateway`, "Bad Gateway"},
	}
	for _, tt := range tests {
		c, _ := fake(t, tt.status, tt.body)
		_, err := c.Issue(context.Background(), IssueRequest{Subject: "x"})
		ae, ok := IsAPIError(err)
		if !ok || ae.Status != tt.status || ae.Detail != tt.want {
			t.Errorf("%d %s: got %v, want APIError %d %q", tt.status, tt.body, err, tt.status, tt.want)
		}
	}
}

func TestReadyNotReadyReturnsReport(t *testing.T) {
	c, _ := fake(t, 503, `{"ready":false,"checks":{"index":{"ok":false,"detail":"loading"}}}`)
	r, err := c.Ready(context.Background())
	if ae, ok := IsAPIError(err); !ok || ae.Status != 503 {
		t.Fatalf("err = %v, want 503 APIError", err)
	}
	if r == nil || r.Ready || r.Checks["index"].Detail != "loading" {
		t.Fatalf("report = %+v", r)
	}
}

func TestNetworkErrorIsNotAPIError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, _ := New(url)
	_, err := c.Health(context.Background())
	if err == nil {
		t.Fatal("want an error from a closed server")
	}
	if _, ok := IsAPIError(err); ok {
		t.Fatalf("network failure reported as API error: %v", err)
	}
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"127.0.0.1:8000", "ftp://x", "http://", "://"} {
		if _, err := New(u); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	c, err := New("")
	if err != nil || c.BaseURL() != DefaultURL {
		t.Fatalf("New(\"\") = %v, %v", c, err)
	}
}

// TestRefreshExchange runs the real server side of the key exchange
// (kex.ServerExchange) behind the fake endpoint, for every kind.
func TestRefreshExchange(t *testing.T) {
	for _, kind := range []kex.Kind{kex.XWing, kex.MLKEM768, kex.X25519} {
		t.Run(string(kind), func(t *testing.T) {
			var want []byte
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var req RefreshRequest
				if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
					t.Error(err)
				}
				res, err := kex.ServerExchange(req.ClientPublicKey, "access-1", rand.Reader)
				if err != nil {
					w.WriteHeader(422)
					io.WriteString(w, `{"detail":"client_public_key: bad"}`)
					return
				}
				want = res.SessionKey
				json.NewEncoder(w).Encode(map[string]any{
					"access_token": "a", "refresh_token": "r2", "access_jti": "access-1",
					"server_public_key": res.ServerPublicKeyBase64(), "encrypted_session_key": res.EncryptedSessionKeyBase64(),
				})
			}))
			defer srv.Close()
			c, _ := New(srv.URL)
			ex, err := c.RefreshExchange(context.Background(), "rt", "b", kind)
			if err != nil {
				t.Fatal(err)
			}
			if ex.Kind != kind || len(ex.SessionKey) != 32 || string(ex.SessionKey) != string(want) {
				t.Fatalf("session key %x, want %x", ex.SessionKey, want)
			}
		})
	}
}

func TestRefreshExchangeWithoutKeyExchange(t *testing.T) {
	c, _ := fake(t, 200, `{"access_token":"a","refresh_token":null,"access_jti":"j","server_public_key":null,"encrypted_session_key":null}`)
	_, err := c.RefreshExchange(context.Background(), "rt", "b", kex.XWing)
	if !errors.Is(err, ErrNoKeyExchange) {
		t.Fatalf("err = %v, want ErrNoKeyExchange", err)
	}
}

func TestDecodeHeader(t *testing.T) {
	if _, err := DecodeHeader("nodots"); err == nil {
		t.Error("accepted a non-JWT")
	}
	if _, err := DecodeHeader("!!!.e30.x"); err == nil || !strings.Contains(err.Error(), "header") {
		t.Errorf("bad base64: %v", err)
	}
}
