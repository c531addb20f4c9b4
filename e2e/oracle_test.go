package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/revocd/revocd/actors/issuer"
)

const (
	prodSecret   = "production-jwt-secret-0123456789abcdef-0123456789"
	prodAdminKey = "oracle-admin-key-0123456789abcdef"
	seedIssuer   = "p4-revocation-service"
)

// prodNode starts a node in production mode (no --dev).
func prodNode(t *testing.T, db string) *node {
	t.Helper()
	return startNode(t, db, []string{"JWT_SECRET_KEY=" + prodSecret, "ADMIN_API_KEYS=" + prodAdminKey}, "--no-dev")
}

func adminPost(t *testing.T, n *node, path string, body any) map[string]any {
	t.Helper()
	r := n.do("POST", path, body, "Authorization", "Bearer "+prodAdminKey)
	if r.Status != 200 {
		t.Fatalf("POST %s: %d %s", path, r.Status, r.Body)
	}
	return r.JSON(t)
}

// signHS256 mints a token with golang-jwt; kid "" leaves the header without
// "kid", as the seed's service did.
func signHS256(t *testing.T, secret, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tk := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	if kid != "" {
		tk.Header["kid"] = kid
	}
	s, err := tk.SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func algNone(claims jwt.MapClaims, kid string) string {
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": kid})
	p, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// TestNoRevocationOracle: in production mode, forged tokens (HS256 with a
// wrong secret, alg none, a truncated signature, an unknown kid) naming a
// revoked subject or a revoked jti get revoked:false from /token/validate
// and its batch form, so nobody learns who is revoked; /token/inspect needs
// the admin key; a verified token that is revoked (even expired) still
// reports revoked:true.
func TestNoRevocationOracle(t *testing.T) {
	n := prodNode(t, "")
	issued := adminPost(t, n, "/token", map[string]any{"subject": "dave0"})
	genuine := issued["access_token"].(string)
	kid := headerKid(t, genuine)
	victimJTI := adminPost(t, n, "/token", map[string]any{"subject": "erin0"})["jti"].(string)
	adminPost(t, n, "/revoke", map[string]any{"type": "revoke_sub", "value": "dave0"})
	adminPost(t, n, "/revoke", map[string]any{"type": "revoke_jti", "value": victimJTI})

	now := time.Now()
	// parses: the token surely decodes (only its signature is wrong), so
	// inspect with the admin key shows the claims' revocation state (a
	// truncated signature may or may not still be valid base64url).
	type forgery struct {
		name, tok string
		parses    bool
	}
	var forged []forgery
	for _, v := range []struct{ sub, jti string }{{"dave0", uuid.NewString()}, {"frank0", victimJTI}} {
		c := jwt.MapClaims{"sub": v.sub, "jti": v.jti, "iat": now.Add(-time.Hour).Unix(), "exp": now.Add(time.Hour).Unix(), "iss": seedIssuer}
		real := signHS256(t, prodSecret, kid, c)
		forged = append(forged, []forgery{
			{"wrong secret " + v.sub, signHS256(t, "attacker-guess-0123456789abcdef-0123456789", kid, c), true},
			{"wrong secret, no kid " + v.sub, signHS256(t, "attacker-guess-0123456789abcdef-0123456789", "", c), true},
			{"alg none " + v.sub, algNone(c, kid), true},
			{"truncated signature " + v.sub, real[:len(real)-4], false},
			{"truncated signature, 1 byte " + v.sub, real[:len(real)-1], false},
			{"unknown kid " + v.sub, signHS256(t, prodSecret, "hs-0000000000000000", c), true},
		}...)
	}
	for _, f := range forged {
		t.Run(f.name, func(t *testing.T) {
			v := n.validate(f.tok)
			if v["revoked"] != false || v["valid"] != false || v["claims"] != nil || v["message"] == "Token has been revoked" {
				t.Fatalf("validate(forged) = %v, want valid=false revoked=false claims=null", v)
			}
			b := n.post("/token/validate/batch", map[string]any{"tokens": []string{f.tok}}, 200)
			if r := b["results"].([]any)[0].(map[string]any); r["revoked"] != false || r["valid"] != false {
				t.Fatalf("batch(forged) = %v", r)
			}
			// Inspect: 401 without the admin key, the revocation state with it.
			q := "/token/inspect?token=" + url.QueryEscape(f.tok)
			if r := n.do("GET", q, nil); r.Status != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") || r.JSON(t)["detail"] == nil {
				t.Fatalf("inspect without key: %d %s (WWW-Authenticate %q)", r.Status, r.Body, r.Header.Get("WWW-Authenticate"))
			}
			r := n.do("GET", q, nil, "Authorization", "Bearer "+prodAdminKey)
			if m := r.JSON(t); r.Status != 200 || (f.parses && m["claims"] == nil) || (m["claims"] != nil) != (m["revoked"] == true) {
				t.Fatalf("inspect with key: %d %s", r.Status, r.Body)
			}
		})
	}

	// Verified tokens: revoked beats expired.
	expiredRevoked := signHS256(t, prodSecret, kid, jwt.MapClaims{"sub": "dave0", "jti": uuid.NewString(), "iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix(), "iss": seedIssuer})
	if v := n.validate(expiredRevoked); v["revoked"] != true || v["valid"] != false || v["message"] != "Token has been revoked" || v["claims"] == nil {
		t.Fatalf("verified, expired, revoked sub: %v", v)
	}
	expiredJTI := signHS256(t, prodSecret, kid, jwt.MapClaims{"sub": "frank0", "jti": victimJTI, "iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix(), "iss": seedIssuer})
	if v := n.validate(expiredJTI); v["revoked"] != true || v["message"] != "Token has been revoked" {
		t.Fatalf("verified, expired, revoked jti: %v", v)
	}
	expired := signHS256(t, prodSecret, kid, jwt.MapClaims{"sub": "grace0", "jti": uuid.NewString(), "iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix(), "iss": seedIssuer})
	if v := n.validate(expired); v["revoked"] != false || v["message"] != "Token has expired" {
		t.Fatalf("verified, expired, not revoked: %v", v)
	}
	if v := n.validate(genuine); v["revoked"] != true || v["valid"] != false {
		t.Fatalf("issued token of the revoked subject: %v", v)
	}
	// Inspect with the admin key reports the genuine token's state too.
	if r := n.do("GET", "/token/inspect?token="+url.QueryEscape(genuine), nil, "Authorization", "Bearer "+prodAdminKey); r.Status != 200 || r.JSON(t)["revoked"] != true {
		t.Fatalf("inspect genuine with key: %d %s", r.Status, r.Body)
	}
}

// TestInspectOpenInDev: --dev keeps /token/inspect open (the seed's
// behaviour for local debugging).
func TestInspectOpenInDev(t *testing.T) {
	n := startNode(t, "", nil)
	tok, _ := n.issue("heidi0")
	if r := n.do("GET", "/token/inspect?token="+url.QueryEscape(tok), nil); r.Status != 200 || r.JSON(t)["revoked"] != false {
		t.Fatalf("inspect in --dev: %d %s", r.Status, r.Body)
	}
}

// TestSeedEraTokensSurviveRotation: a token of the seed's service (HS256
// with JWT_SECRET_KEY, no kid) verifies after key rotations and restarts for
// as long as the secret is configured, and is revoked by a revoke_kid of
// the secret's derived kid (also after a restart); forged ones never verify.
func TestSeedEraTokensSurviveRotation(t *testing.T) {
	n := prodNode(t, "")
	before := adminPost(t, n, "/token", map[string]any{"subject": "ivan0"})["access_token"].(string)
	derived := issuer.SecretKeyID(prodSecret)
	if headerKid(t, before) != derived {
		t.Fatalf("first signing key %s, want the secret's %s", headerKid(t, before), derived)
	}
	now := time.Now()
	c := jwt.MapClaims{"sub": "seed-user", "jti": uuid.NewString(), "iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(), "iss": seedIssuer}
	seed := signHS256(t, prodSecret, "", c)
	forged := signHS256(t, "attacker-guess-0123456789abcdef-0123456789", "", c)
	check := func(when string, wantValid bool, wantRevoked bool) {
		t.Helper()
		v := n.validate(seed)
		if v["valid"] != wantValid || v["revoked"] != wantRevoked {
			t.Fatalf("%s: seed-era token = %v, want valid=%v revoked=%v", when, v, wantValid, wantRevoked)
		}
		if v := n.validate(forged); v["valid"] != false || v["revoked"] != false || v["message"] != "Invalid signature" {
			t.Fatalf("%s: forged seed-era token = %v", when, v)
		}
	}
	check("before rotation", true, false)
	rot := adminPost(t, n, "/admin/keys/rotate", nil)
	after := adminPost(t, n, "/token", map[string]any{"subject": "ivan0"})["access_token"].(string)
	if rot["kid"] == derived || headerKid(t, after) == derived {
		t.Fatalf("rotation kept the secret's key: %v", rot)
	}
	check("after rotation", true, false)
	adminPost(t, n, "/admin/keys/rotate", nil)
	check("after two rotations", true, false)
	n.restart()
	check("after restart", true, false)
	adminPost(t, n, "/revoke", map[string]any{"type": "revoke_kid", "value": derived})
	check("after revoke_kid of the derived kid", false, true)
	if v := n.validate(after); v["valid"] != true {
		t.Fatalf("token of the current key after revoking the legacy kid: %v", v)
	}
	n.restart()
	check("after revoke_kid and restart", false, true)
}
