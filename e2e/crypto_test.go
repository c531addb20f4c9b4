package e2e

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cloudflare/circl/kem"
	"github.com/cloudflare/circl/kem/mlkem/mlkem768"
	"github.com/cloudflare/circl/kem/xwing"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/chacha20poly1305"
)

// jwks fetches the node's JWKS as kid → JWK.
func jwks(t *testing.T, n *node) map[string]map[string]any {
	t.Helper()
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	r := n.do("GET", "/.well-known/jwks.json", nil)
	if err := jsonUnmarshal(r.Body, &doc); err != nil {
		t.Fatalf("jwks: %v: %s", err, r.Body)
	}
	out := map[string]map[string]any{}
	for _, k := range doc.Keys {
		out[k["kid"].(string)] = k
	}
	return out
}

func b64url(t *testing.T, v any) []byte {
	t.Helper()
	s, _ := v.(string)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("JWK member %q: %v", s, err)
	}
	return b
}

// verifyWithJWKS checks tok's signature with the public key from the JWKS,
// independently of revocd's verifier.
func verifyWithJWKS(t *testing.T, tok string, jwk map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	signing, sig := parts[0]+"."+parts[1], b64url(t, parts[2])
	switch jwk["kty"] {
	case "OKP":
		if !ed25519.Verify(ed25519.PublicKey(b64url(t, jwk["x"])), []byte(signing), sig) {
			t.Fatal("EdDSA signature does not verify with the JWKS key")
		}
	case "EC":
		pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(b64url(t, jwk["x"])), Y: new(big.Int).SetBytes(b64url(t, jwk["y"]))}
		if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return pub, nil }, jwt.WithValidMethods([]string{"ES256"})); err != nil {
			t.Fatalf("ES256 token does not verify with golang-jwt and the JWKS key: %v", err)
		}
	case "AKP":
		var pk mldsa65.PublicKey
		if err := pk.UnmarshalBinary(b64url(t, jwk["pub"])); err != nil {
			t.Fatal(err)
		}
		if !mldsa65.Verify(&pk, []byte(signing), nil, sig) {
			t.Fatal("ML-DSA-65 signature does not verify with the JWKS key")
		}
	default:
		t.Fatalf("unexpected kty %v", jwk["kty"])
	}
}

func TestEveryTokenAlgorithm(t *testing.T) {
	for _, alg := range []string{"HS256", "EdDSA", "ES256", "ML-DSA-65"} {
		t.Run(alg, func(t *testing.T) {
			n := startNode(t, "", []string{"JWT_ALGORITHM=" + alg})
			tok, _ := n.issue("quinn")
			kid := headerKid(t, tok)
			if v := n.validate(tok); v["valid"] != true {
				t.Fatalf("validate: %v", v)
			}
			keys := jwks(t, n)
			if alg == "HS256" {
				if len(keys) != 0 {
					t.Fatalf("JWKS publishes a symmetric key: %v", keys)
				}
			} else {
				jwk, ok := keys[kid]
				if !ok || jwk["alg"] != alg {
					t.Fatalf("JWKS lacks kid %s with alg %s: %v", kid, alg, keys)
				}
				verifyWithJWKS(t, tok, jwk)
				// Algorithm confusion: an HS256 token keyed with the public
				// key's bytes must be refused.
				pub := b64url(t, firstOf(jwk, "x", "pub"))
				forged := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "quinn", "jti": "conf", "iss": "p4-revocation-service", "exp": 9999999999, "iat": 1})
				forged.Header["kid"] = kid
				s, _ := forged.SignedString(pub)
				if v := n.validate(s); v["valid"] != false {
					t.Fatalf("algorithm confusion accepted: %v", v)
				}
			}
			// Rotation on demand: old tokens stay valid, new ones use a new kid.
			rot := n.post("/admin/keys/rotate", `{}`, 200)
			if rot["kid"] == kid {
				t.Fatalf("rotate: %v", rot)
			}
			fresh, _ := n.issue("quinn")
			if headerKid(t, fresh) == kid || n.validate(fresh)["valid"] != true || n.validate(tok)["valid"] != true {
				t.Fatal("rotation broke verification")
			}
			// revoke_kid kills every token of the old key.
			n.revoke("revoke_kid", kid)
			if v := n.validate(tok); v["revoked"] != true {
				t.Fatalf("token of revoked kid: %v", v)
			}
			if v := n.validate(fresh); v["valid"] != true {
				t.Fatalf("token of the current key after revoking the old: %v", v)
			}
		})
	}
}

func firstOf(m map[string]any, names ...string) any {
	for _, n := range names {
		if v, ok := m[n]; ok {
			return v
		}
	}
	return nil
}

// kemClient runs the client side of the refresh key exchange for a circl
// KEM scheme, written from the documented construction.
func kemClient(t *testing.T, n *node, scheme kem.Scheme) {
	t.Helper()
	pk, sk, err := scheme.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	pkb, _ := pk.MarshalBinary()
	rc := n.post("/token/refresh/create", map[string]any{"subject": "rosa", "client_binding": "dev"}, 200)
	rf := n.post("/token/refresh", map[string]any{"refresh_token": rc["refresh_token"], "client_binding": "dev", "client_public_key": base64.StdEncoding.EncodeToString(pkb)}, 200)
	ct, _ := base64.StdEncoding.DecodeString(rf["server_public_key"].(string))
	enc, _ := base64.StdEncoding.DecodeString(rf["encrypted_session_key"].(string))
	shared, err := scheme.Decapsulate(sk, ct)
	if err != nil {
		t.Fatal(err)
	}
	jti := rf["access_jti"].(string)
	key, _ := hkdf.Key(sha256.New, shared, nil, "revocd/refresh/v1"+jti, 32)
	aead, _ := chacha20poly1305.New(key)
	if sk, err := aead.Open(nil, enc[:12], enc[12:], []byte(jti)); err != nil || len(sk) != 32 {
		t.Fatalf("%s: cannot open session key: %v", scheme.Name(), err)
	}
	// A corrupted key of the right size is refused or yields a key the
	// client cannot open; a wrong size is always 422.
	rc = n.post("/token/refresh/create", map[string]any{"subject": "rosa", "client_binding": "dev"}, 200)
	r := n.do("POST", "/token/refresh", map[string]any{"refresh_token": rc["refresh_token"], "client_binding": "dev", "client_public_key": base64.StdEncoding.EncodeToString(pkb[:len(pkb)-1])})
	if r.Status != 422 {
		t.Fatalf("%s: truncated key: %d %s", scheme.Name(), r.Status, r.Body)
	}
}

func TestRefreshPostQuantumKEMs(t *testing.T) {
	n := startNode(t, "", nil)
	rc := n.post("/token/refresh/create", map[string]any{"subject": "rosa", "client_binding": "dev"}, 200)
	if kb, _ := base64.StdEncoding.DecodeString(rc["kyber_public_key"].(string)); len(kb) != xwing.PublicKeySize {
		t.Fatalf("kyber_public_key is %d bytes, want an X-Wing public key (%d)", len(kb), xwing.PublicKeySize)
	}
	kemClient(t, n, mlkem768.Scheme())
	kemClient(t, n, xwing.Scheme())
}

func (n *node) form(path string, values url.Values, headers ...string) response {
	n.t.Helper()
	req, _ := http.NewRequest("POST", n.URL+path, strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := n.client.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		k, err := resp.Body.Read(buf)
		b.Write(buf[:k])
		if err != nil {
			break
		}
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: []byte(b.String())}
}

func TestOAuthRevocationAndIntrospection(t *testing.T) {
	n := startNode(t, "", nil)
	tok, _ := n.issue("sam")
	in := n.form("/oauth2/introspect", url.Values{"token": {tok}}).JSON(t)
	if in["active"] != true || in["sub"] != "sam" || in["token_type"] != "access_token" || in["iss"] != "p4-revocation-service" {
		t.Fatalf("introspect active: %v", in)
	}
	// RFC 7009: unknown and invalid tokens get 200.
	for _, bad := range []string{"garbage", tok[:len(tok)-3]} {
		if r := n.form("/oauth2/revoke", url.Values{"token": {bad}, "token_type_hint": {"access_token"}}); r.Status != 200 {
			t.Fatalf("revoke unknown: %d %s", r.Status, r.Body)
		}
	}
	if r := n.form("/oauth2/revoke", url.Values{"token": {tok}}); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if v := n.validate(tok); v["revoked"] != true {
		t.Fatalf("after RFC 7009 revocation: %v", v)
	}
	in = n.form("/oauth2/introspect", url.Values{"token": {tok}}).JSON(t)
	if in["active"] != false || len(in) != 1 {
		t.Fatalf("introspect revoked: %v", in)
	}
	if in := n.form("/oauth2/introspect", url.Values{"token": {"nope"}}).JSON(t); in["active"] != false {
		t.Fatalf("introspect garbage: %v", in)
	}
	// Refresh tokens revoked through RFC 7009 can no longer refresh.
	rc := n.post("/token/refresh/create", map[string]any{"subject": "sam", "client_binding": "d"}, 200)
	if in := n.form("/oauth2/introspect", url.Values{"token": {rc["refresh_token"].(string)}}).JSON(t); in["active"] != true || in["token_type"] != "refresh_token" {
		t.Fatalf("introspect refresh: %v", in)
	}
	n.form("/oauth2/revoke", url.Values{"token": {rc["refresh_token"].(string)}, "token_type_hint": {"refresh_token"}})
	if r := n.do("POST", "/token/refresh", map[string]any{"refresh_token": rc["refresh_token"], "client_binding": "d"}); r.Status != 401 {
		t.Fatalf("refresh after RFC 7009 revoke: %d", r.Status)
	}
	// Wrong content type and missing token are 400 invalid_request.
	if r := n.do("POST", "/oauth2/revoke", `{"token":"x"}`); r.Status != 400 {
		t.Fatalf("JSON body to /oauth2/revoke: %d", r.Status)
	}
	if r := n.form("/oauth2/introspect", url.Values{}); r.Status != 400 {
		t.Fatalf("missing token: %d", r.Status)
	}
}

func TestBatchValidate(t *testing.T) {
	n := startNode(t, "", []string{"VALIDATE_BATCH_MAX=5"})
	a, _ := n.issue("tina")
	b, jb := n.issue("tina2")
	n.revoke("revoke_jti", jb)
	out := n.post("/token/validate/batch", map[string]any{"tokens": []string{a, b, "junk"}}, 200)
	res := out["results"].([]any)
	if len(res) != 3 || res[0].(map[string]any)["valid"] != true || res[1].(map[string]any)["revoked"] != true || res[2].(map[string]any)["valid"] != false {
		t.Fatalf("batch results: %v", res)
	}
	if r := n.do("POST", "/token/validate/batch", map[string]any{"tokens": []string{a, a, a, a, a, a}}); r.Status != 422 {
		t.Fatalf("over the batch limit: %d %s", r.Status, r.Body)
	}
}
