package e2e

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/chacha20poly1305"
)

// devSecret is the seed's public default secret, accepted in --dev mode.
const devSecret = "your-secret-key-change-in-production"

func TestSeedResponseShapes(t *testing.T) {
	n := startNode(t, "", nil)
	if r := n.do(http.MethodGet, "/health", nil); r.Status != 200 || strings.TrimSpace(string(r.Body)) != `{"ok": true}` {
		t.Fatalf("/health = %d %s", r.Status, r.Body)
	}
	tokResp := n.post("/token", map[string]any{"subject": "user123", "expires_minutes": 30, "additional_claims": map[string]any{"role": "admin", "department": "IT"}}, 200)
	if got := keys(tokResp); got != "access_token,expires_in,jti,subject,token_type" {
		t.Fatalf("/token fields = %s", got)
	}
	if tokResp["token_type"] != "bearer" || tokResp["expires_in"] != float64(1800) || tokResp["subject"] != "user123" {
		t.Fatalf("/token = %v", tokResp)
	}
	tok := tokResp["access_token"].(string)
	v := n.validate(tok)
	if got := keys(v); got != "claims,message,revoked,valid" {
		t.Fatalf("/token/validate fields = %s", got)
	}
	claims := v["claims"].(map[string]any)
	if v["valid"] != true || v["revoked"] != false || v["message"] != "Token is valid and not revoked" ||
		claims["sub"] != "user123" || claims["role"] != "admin" || claims["jti"] != tokResp["jti"] {
		t.Fatalf("/token/validate = %v", v)
	}
	ins := n.do(http.MethodGet, "/token/inspect?token="+tok, nil).JSON(t)
	if got := keys(ins); got != "claims,note,revocation_reason,revoked" {
		t.Fatalf("/token/inspect fields = %s", got)
	}
	rv := n.revoke("revoke_jti", tokResp["jti"].(string))
	if got := keys(rv); got != "event_id,published" || rv["published"] != false {
		t.Fatalf("/revoke = %v", rv)
	}
	v = n.validate(tok)
	if v["valid"] != false || v["revoked"] != true || v["message"] != "Token has been revoked" {
		t.Fatalf("revoked token: %v", v)
	}
	ins = n.do(http.MethodGet, "/token/inspect?token="+tok, nil).JSON(t)
	if ins["revoked"] != true || ins["revocation_reason"] == nil {
		t.Fatalf("inspect revoked: %v", ins)
	}
	rc := n.post("/token/refresh/create", map[string]any{"subject": "user123", "client_binding": "device-fingerprint-abc123", "additional_claims": map[string]any{"role": "user"}}, 200)
	if got := keys(rc); got != "access_jti,access_token,expires_in,kyber_public_key,refresh_expires_in,refresh_jti,refresh_token,subject,token_type" {
		t.Fatalf("/token/refresh/create fields = %s", got)
	}
	if rc["refresh_expires_in"] != float64(90*24*3600) {
		t.Fatalf("refresh_expires_in = %v", rc["refresh_expires_in"])
	}
	rf := n.post("/token/refresh", map[string]any{"refresh_token": rc["refresh_token"], "client_binding": "device-fingerprint-abc123"}, 200)
	if got := keys(rf); got != "access_jti,access_token,encrypted_session_key,expires_in,refresh_token,server_public_key,token_type" {
		t.Fatalf("/token/refresh fields = %s", got)
	}
	if n.validate(rf["access_token"].(string))["valid"] != true {
		t.Fatal("refreshed access token invalid")
	}
	// The seed's logout body: a bare JSON string.
	rr := n.post("/token/refresh/revoke", `"`+rf["refresh_token"].(string)+`"`, 200)
	if got := keys(rr); got != "event_id,published" {
		t.Fatalf("/token/refresh/revoke fields = %s", got)
	}
	if r := n.do(http.MethodPost, "/token/refresh", map[string]any{"refresh_token": rf["refresh_token"], "client_binding": "device-fingerprint-abc123"}); r.Status != 401 {
		t.Fatalf("refresh after logout: %d %s", r.Status, r.Body)
	}
	for _, p := range []string{"/docs", "/openapi.json", "/.well-known/jwks.json", "/events/keys", "/metrics", "/ready"} {
		if r := n.do(http.MethodGet, p, nil); r.Status != 200 || len(r.Body) == 0 {
			t.Errorf("GET %s = %d", p, r.Status)
		}
	}
}

func TestRevokeSubCutsOffOnlyEarlierTokens(t *testing.T) {
	n := startNode(t, "", nil)
	before, _ := n.issue("alice")
	other, _ := n.issue("bob")
	n.revoke("revoke_sub", "alice")
	if v := n.validate(before); v["revoked"] != true {
		t.Fatalf("token issued before revoke_sub: %v", v)
	}
	if v := n.validate(other); v["valid"] != true {
		t.Fatalf("other subject affected: %v", v)
	}
	// A login right after "log out everywhere" (even in the same second:
	// iat has second precision) gets a valid token.
	after, _ := n.issue("alice")
	if v := n.validate(after); v["valid"] != true {
		t.Fatalf("token issued after revoke_sub: %v", v)
	}
}

func TestRevokeKidRotatesCurrentKey(t *testing.T) {
	n := startNode(t, "", nil)
	old, _ := n.issue("carol")
	kid := headerKid(t, old)
	n.revoke("revoke_kid", kid)
	if v := n.validate(old); v["revoked"] != true {
		t.Fatalf("token of revoked key: %v", v)
	}
	fresh, _ := n.issue("carol")
	if headerKid(t, fresh) == kid {
		t.Fatal("issuer still signs with the revoked key")
	}
	if v := n.validate(fresh); v["valid"] != true {
		t.Fatalf("token of the new key: %v", v)
	}
	// The rotation is durable: after a crash the revoked key stays retired.
	n.restart()
	again, _ := n.issue("carol")
	if headerKid(t, again) == kid || n.validate(again)["valid"] != true {
		t.Fatalf("after restart: kid %s valid %v", headerKid(t, again), n.validate(again))
	}
}

func headerKid(t *testing.T, tok string) string {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatalf("token header: %v", err)
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		t.Fatalf("token header: %v", err)
	}
	return hdr.Kid
}

func TestCheckRevocationFalseSkipsIndex(t *testing.T) {
	n := startNode(t, "", nil)
	tok, jti := n.issue("dave")
	n.revoke("revoke_jti", jti)
	v := n.post("/token/validate", map[string]any{"token": tok, "check_revocation": false}, 200)
	if v["valid"] != true || v["revoked"] != false {
		t.Fatalf("check_revocation=false: %v", v)
	}
}

// forge signs claims with the dev secret and the node's kid.
func forge(t *testing.T, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tk := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tk.Header["kid"] = kid
	s, err := tk.SignedString([]byte(devSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRevokedBeatsExpiredAndTokenChecks(t *testing.T) {
	n := startNode(t, "", nil)
	good, _ := n.issue("erin")
	kid := headerKid(t, good)
	now := time.Now().Unix()
	expired := forge(t, kid, jwt.MapClaims{"sub": "erin", "jti": "11111111-2222-4333-8444-555555555555", "iat": now - 7200, "exp": now - 3600, "iss": "p4-revocation-service"})
	if v := n.validate(expired); v["valid"] != false || v["revoked"] != false || v["message"] != "Token has expired" {
		t.Fatalf("expired: %v", v)
	}
	n.revoke("revoke_jti", "11111111-2222-4333-8444-555555555555")
	if v := n.validate(expired); v["revoked"] != true || v["message"] != "Token has been revoked" {
		t.Fatalf("revoked+expired must report revoked: %v", v)
	}

	parts := strings.Split(good, ".")
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	otherKey := func() string {
		tk := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "erin", "jti": "x", "iat": now, "exp": now + 600, "iss": "p4-revocation-service"})
		tk.Header["kid"] = kid
		s, _ := tk.SignedString([]byte("some-other-secret"))
		return s
	}()
	tests := []struct {
		name, token, message string
	}{
		{"wrong issuer", forge(t, kid, jwt.MapClaims{"sub": "erin", "jti": "a", "iat": now, "exp": now + 600, "iss": "evil"}), "Invalid token issuer"},
		{"unknown kid", forge(t, "no-such-kid", jwt.MapClaims{"sub": "erin", "jti": "b", "iat": now, "exp": now + 600, "iss": "p4-revocation-service"}), "Unknown signing key"},
		{"wrong key", otherKey, "Invalid signature"},
		{"alg none", noneHeader + "." + parts[1] + ".", ""},
		{"truncated", good[:len(good)-5], ""},
		{"signature cut by one char", good[:len(good)-1], ""},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"root","exp":9999999999,"iss":"p4-revocation-service"}`)) + "." + parts[2], "Invalid signature"},
		{"two segments", parts[0] + "." + parts[1], "Malformed token"},
		{"garbage", "not-a-token", "Malformed token"},
		{"empty", "", "Malformed token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := n.validate(tc.token)
			if v["valid"] != false || (tc.message != "" && v["message"] != tc.message) {
				t.Fatalf("got %v, want invalid with %q", v, tc.message)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	n := startNode(t, "", nil, "--max-body-bytes", "4096")
	tests := []struct {
		name, method, path string
		body               any
		status             int
		detail             string
	}{
		{"malformed json", "POST", "/token", `{"subject":`, 400, "Malformed JSON"},
		{"not an object", "POST", "/token", `["subject"]`, 422, "body"},
		{"empty body", "POST", "/revoke", ``, 400, "empty"},
		{"subject wrong type", "POST", "/token", `{"subject": 5}`, 422, "subject"},
		{"subject missing", "POST", "/token", `{}`, 422, "subject"},
		{"expires_minutes string", "POST", "/token", `{"subject":"a","expires_minutes":"30"}`, 422, "expires_minutes"},
		{"expires_minutes too large", "POST", "/token", `{"subject":"a","expires_minutes":100000}`, 422, "expires_minutes"},
		{"expires_minutes zero", "POST", "/token", `{"subject":"a","expires_minutes":0}`, 422, "expires_minutes"},
		{"override sub", "POST", "/token", `{"subject":"a","additional_claims":{"sub":"root"}}`, 422, "additional_claims"},
		{"override exp", "POST", "/token", `{"subject":"a","additional_claims":{"exp":1}}`, 422, "additional_claims"},
		{"claims not object", "POST", "/token", `{"subject":"a","additional_claims":"x"}`, 422, "additional_claims"},
		{"revoke unknown type", "POST", "/revoke", `{"type":"revoke_all","value":"x"}`, 422, "type"},
		{"revoke empty value", "POST", "/revoke", `{"type":"revoke_jti","value":""}`, 422, "value"},
		{"revoke ttl negative", "POST", "/revoke", `{"type":"revoke_jti","value":"x","ttl_seconds":-1}`, 422, "ttl_seconds"},
		{"revoke ttl float", "POST", "/revoke", `{"type":"revoke_jti","value":"x","ttl_seconds":1.5}`, 422, "ttl_seconds"},
		{"validate token missing", "POST", "/token/validate", `{"check_revocation":true}`, 422, "token"},
		{"validate token number", "POST", "/token/validate", `{"token":12}`, 422, "token"},
		{"validate check_revocation string", "POST", "/token/validate", `{"token":"a","check_revocation":"yes"}`, 422, "check_revocation"},
		{"trailing garbage", "POST", "/token/validate", `{"token":"a"} x`, 400, "Malformed"},
		{"invalid utf8", "POST", "/token", "{\"subject\":\"\xff\xfe\"}", 400, "UTF-8"},
		{"too large", "POST", "/token/validate", `{"token":"` + strings.Repeat("a", 5000) + `"}`, 413, "too large"},
		{"refresh bad key size", "POST", "/token/refresh/create", `{"subject":"a"}`, 422, "client_binding"},
		{"unknown route", "GET", "/nope", nil, 404, "Not Found"},
		{"wrong method", "GET", "/revoke", nil, 405, "Method Not Allowed"},
		{"wrong method validate", "PUT", "/token/validate", `{}`, 405, "Method Not Allowed"},
		{"inspect without token", "GET", "/token/inspect", nil, 422, "token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := n.do(tc.method, tc.path, tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			m := r.JSON(t)
			d, _ := m["detail"].(string)
			if !strings.Contains(strings.ToLower(d), strings.ToLower(tc.detail)) {
				t.Fatalf("detail %q does not mention %q", d, tc.detail)
			}
		})
	}
	// Nothing above changed state: the audit log holds no revocation.
	// (The node's own key_state event, published at start, is cluster
	// state, not a revocation.)
	feed := n.do("GET", "/revocations?after=0", nil).JSON(t)
	for _, e := range feed["events"].([]any) {
		if typ := e.(map[string]any)["type"]; typ != "key_state" {
			t.Fatalf("bad input changed state: %v", e)
		}
	}
}

func TestRevocationsSurviveKill9(t *testing.T) {
	n := startNode(t, "", nil)
	var toks []string
	for i := 0; i < 20; i++ {
		tok, jti := n.issue("frank")
		n.revoke("revoke_jti", jti)
		toks = append(toks, tok)
	}
	subTok, _ := n.issue("grace")
	n.revoke("revoke_sub", "grace")
	n.restart() // SIGKILL, then start on the same SQLite file
	for _, tok := range append(toks, subTok) {
		if v := n.validate(tok); v["revoked"] != true {
			t.Fatalf("revocation lost across kill -9: %v", v)
		}
	}
}

func TestRefreshRotationReuseAndBinding(t *testing.T) {
	n := startNode(t, "", nil)
	rc := n.post("/token/refresh/create", map[string]any{"subject": "heidi", "client_binding": "phone"}, 200)
	other := n.post("/token/refresh/create", map[string]any{"subject": "heidi", "client_binding": "laptop"}, 200)
	first := rc["refresh_token"].(string)

	if r := n.do("POST", "/token/refresh", map[string]any{"refresh_token": first, "client_binding": "stolen-device"}); r.Status != 401 {
		t.Fatalf("binding mismatch: %d %s", r.Status, r.Body)
	}
	r1 := n.post("/token/refresh", map[string]any{"refresh_token": first, "client_binding": "phone"}, 200)
	second := r1["refresh_token"].(string)
	if second == "" || second == first {
		t.Fatal("no rotation")
	}
	access := r1["access_token"].(string)
	// Presenting the retired token again is reuse: the family dies.
	if r := n.do("POST", "/token/refresh", map[string]any{"refresh_token": first, "client_binding": "phone"}); r.Status != 401 || !strings.Contains(string(r.Body), "reuse") {
		t.Fatalf("reuse not detected: %d %s", r.Status, r.Body)
	}
	if r := n.do("POST", "/token/refresh", map[string]any{"refresh_token": second, "client_binding": "phone"}); r.Status != 401 {
		t.Fatalf("family member still usable after reuse: %d %s", r.Status, r.Body)
	}
	if v := n.validate(access); v["revoked"] != true {
		t.Fatalf("access token of the reused family still valid: %v", v)
	}
	// The subject's other device is untouched.
	n.post("/token/refresh", map[string]any{"refresh_token": other["refresh_token"], "client_binding": "laptop"}, 200)
	// Rotation state survives a crash.
	n.restart()
	if r := n.do("POST", "/token/refresh", map[string]any{"refresh_token": second, "client_binding": "phone"}); r.Status != 401 {
		t.Fatalf("after restart: %d %s", r.Status, r.Body)
	}
}

func TestRefreshForwardSecrecyX25519(t *testing.T) {
	n := startNode(t, "", nil)
	rc := n.post("/token/refresh/create", map[string]any{"subject": "ivan", "client_binding": "dev"}, 200)
	// The client side, written from the documented construction only.
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rf := n.post("/token/refresh", map[string]any{
		"refresh_token": rc["refresh_token"], "client_binding": "dev",
		"client_public_key": base64.StdEncoding.EncodeToString(priv.PublicKey().Bytes()),
	}, 200)
	serverPub, _ := base64.StdEncoding.DecodeString(rf["server_public_key"].(string))
	enc, _ := base64.StdEncoding.DecodeString(rf["encrypted_session_key"].(string))
	peer, err := ecdh.X25519().NewPublicKey(serverPub)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := priv.ECDH(peer)
	if err != nil {
		t.Fatal(err)
	}
	jti := rf["access_jti"].(string)
	key, err := hkdf.Key(sha256.New, shared, nil, "revocd/refresh/v1"+jti, 32)
	if err != nil {
		t.Fatal(err)
	}
	aead, _ := chacha20poly1305.New(key)
	sessionKey, err := aead.Open(nil, enc[:12], enc[12:], []byte(jti))
	if err != nil || len(sessionKey) != 32 {
		t.Fatalf("client cannot open the session key: %v (len %d)", err, len(sessionKey))
	}
	for _, bad := range []string{"AAAA", base64.StdEncoding.EncodeToString(make([]byte, 31)), "%%%"} {
		rc2 := n.post("/token/refresh/create", map[string]any{"subject": "ivan", "client_binding": "dev"}, 200)
		r := n.do("POST", "/token/refresh", map[string]any{"refresh_token": rc2["refresh_token"], "client_binding": "dev", "client_public_key": bad})
		if r.Status != 422 {
			t.Fatalf("bad client_public_key %q: %d %s", bad, r.Status, r.Body)
		}
	}
}

func TestProductionModeRefusesInsecureConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		wantVar string
	}{
		{"seed default secret", []string{"ADMIN_API_KEYS=admin-key-0123456789abcdef"}, "JWT_SECRET_KEY"},
		{"no admin keys", []string{"JWT_SECRET_KEY=" + strings.Repeat("k", 40)}, "ADMIN_API_KEYS"},
		{"bad minutes", []string{"JWT_ACCESS_TOKEN_EXPIRE_MINUTES=abc"}, "JWT_ACCESS_TOKEN_EXPIRE_MINUTES"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(binPath, "--listen", "127.0.0.1:0", "--sqlite-path", t.TempDir()+"/x.db")
			cmd.Env = append(cleanEnv(), tc.env...)
			out, err := cmd.CombinedOutput()
			code := -1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != 2 || !strings.Contains(string(out), tc.wantVar) {
				t.Fatalf("exit %d, output %q; want exit 2 naming %s", code, out, tc.wantVar)
			}
		})
	}
}

func TestAdminEndpointsNeedAPIKeyOutsideDev(t *testing.T) {
	key := "admin-key-0123456789abcdef"
	n := startNode(t, "", []string{"JWT_SECRET_KEY=" + strings.Repeat("p", 48), "ADMIN_API_KEYS=" + key}, "--no-dev")
	for _, p := range []string{"/token", "/revoke", "/token/refresh/create"} {
		if r := n.do("POST", p, `{}`); r.Status != 401 || r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s without key: %d", p, r.Status)
		}
		if r := n.do("POST", p, `{}`, "Authorization", "Bearer wrong-key-0123456789"); r.Status != 401 {
			t.Errorf("%s with wrong key: %d", p, r.Status)
		}
	}
	r := n.do("POST", "/token", `{"subject":"judy"}`, "Authorization", "Bearer "+key)
	if r.Status != 200 {
		t.Fatalf("with key: %d %s", r.Status, r.Body)
	}
	tok := r.JSON(t)["access_token"].(string)
	if v := n.validate(tok); v["valid"] != true {
		t.Fatalf("validation is open: %v", v)
	}
}
