package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
)

const (
	testIssuer     = "p4-revocation-service"
	testAdminKey   = "admin-key-0123456789abcdef"
	curSecret      = "current-secret-0123456789abcdef-0123"
	legacySecret   = "seed-era-jwt-secret-0123456789abcdef"
	wrongSecret    = "attacker-guess-0123456789abcdef-0123"
	revokedSub     = "dave0"
	revokedJTI     = "0a1b2c3d-0000-4000-8000-00000000dead"
	revokedKidName = "hs-retired"
)

// oracleFixture is an API over a real ring, verifier and index holding a
// revoked subject, a revoked jti and a revoked kid.
type oracleFixture struct {
	t      *testing.T
	ring   *token.Ring
	ix     *index.Index
	now    time.Time
	legacy *token.Key
}

func newOracleFixture(t *testing.T) *oracleFixture {
	t.Helper()
	cur, err := token.NewHMACKey("hs-current", []byte(curSecret))
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := token.NewHMACKey("hs-legacy", []byte(legacySecret))
	if err != nil {
		t.Fatal(err)
	}
	retired, err := token.NewHMACKey(revokedKidName, []byte(curSecret+"-retired"))
	if err != nil {
		t.Fatal(err)
	}
	f := &oracleFixture{t: t, ring: token.NewRing(cur), ix: index.New(index.Options{}), now: time.Now(), legacy: legacy}
	f.ring.Add(retired)
	f.ring.SetLegacy(legacy)
	exp := f.now.Add(time.Hour).UnixMilli()
	f.ix.RevokeSub(revokedSub, f.now.Unix(), exp)
	f.ix.RevokeJTI(revokedJTI, exp)
	f.ix.RevokeKid(revokedKidName, exp)
	f.ix.SetReady()
	return f
}

func (f *oracleFixture) api(dev bool) *API {
	opts := Options{Dev: dev, AdminAPIKeys: []string{testAdminKey}, MaxBatchTokens: 100, Leeway: 0}
	ver := token.NewVerifier(f.ring, token.VerifierOptions{Issuer: testIssuer})
	return newTestAPI(f.t, Deps{Options: opts, Verifier: ver, Ring: f.ring, Index: f.ix})
}

// sign mints a token with golang-jwt: kid "" omits the header member.
func sign(t *testing.T, secret, kid string, claims jwt.MapClaims) string {
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

func claimsFor(sub, jti string, iat, exp time.Time) jwt.MapClaims {
	return jwt.MapClaims{"sub": sub, "jti": jti, "iat": iat.Unix(), "exp": exp.Unix(), "iss": testIssuer}
}

func unsignedNone(claims jwt.MapClaims) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"hs-current"}`))
	p, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

type verdictJSON struct {
	Valid   bool           `json:"valid"`
	Claims  map[string]any `json:"claims"`
	Revoked bool           `json:"revoked"`
	Message string         `json:"message"`
}

func do(t *testing.T, a *API, method, uri, body, auth string) *fasthttp.Response {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	ctx.Request.SetBodyString(body)
	if auth != "" {
		ctx.Request.Header.Set("Authorization", auth)
	}
	a.Handler()(&ctx)
	var r fasthttp.Response
	ctx.Response.CopyTo(&r)
	return &r
}

// TestValidateRevealsRevocationOnlyForVerifiedTokens: a forged, unsigned,
// truncated or otherwise unverifiable token naming a revoked subject or jti
// gets revoked:false and its signature/format error, from /token/validate
// and /token/validate/batch alike; a verified revoked token gets
// revoked:true even when expired (revoked beats expired).
func TestValidateRevealsRevocationOnlyForVerifiedTokens(t *testing.T) {
	f := newOracleFixture(t)
	a := f.api(false)
	past, future := f.now.Add(-time.Hour), f.now.Add(time.Hour)
	genuineRevokedSub := sign(t, curSecret, "hs-current", claimsFor(revokedSub, "0a1b2c3d-0000-4000-8000-000000000001", past, future))
	type tc struct {
		name    string
		tok     string
		check   bool
		valid   bool
		revoked bool
		message string
	}
	var tests []tc
	for _, victim := range []struct{ sub, jti string }{
		{revokedSub, "0a1b2c3d-0000-4000-8000-000000000002"},
		{"erin", revokedJTI},
	} {
		c := claimsFor(victim.sub, victim.jti, past, future)
		expired := claimsFor(victim.sub, victim.jti, past.Add(-time.Hour), past)
		tests = append(tests,
			tc{"wrong secret/" + victim.sub, sign(t, wrongSecret, "hs-current", c), true, false, false, "Invalid signature"},
			tc{"wrong secret, expired/" + victim.sub, sign(t, wrongSecret, "hs-current", expired), true, false, false, "Invalid signature"},
			tc{"wrong secret, no kid/" + victim.sub, sign(t, wrongSecret, "", c), true, false, false, "Invalid signature"},
			tc{"alg none/" + victim.sub, unsignedNone(c), true, false, false, "Invalid token algorithm"},
			tc{"unknown kid/" + victim.sub, sign(t, curSecret, "hs-nope", c), true, false, false, "Unknown signing key"},
			tc{"truncated signature/" + victim.sub, truncate(sign(t, curSecret, "hs-current", c), 3), true, false, false, "Invalid signature"},
			tc{"empty signature/" + victim.sub, strings.TrimRightFunc(sign(t, curSecret, "hs-current", c), func(r rune) bool { return r != '.' }), true, false, false, "Invalid signature"},
			tc{"signature of another token/" + victim.sub, withSignatureOf(sign(t, curSecret, "hs-current", c), genuineRevokedSub), true, false, false, "Invalid signature"},
			// Genuine tokens of the same claims: revoked, also when expired.
			tc{"genuine/" + victim.sub, sign(t, curSecret, "hs-current", c), true, false, true, msgRevoked},
			tc{"genuine expired/" + victim.sub, sign(t, curSecret, "hs-current", expired), true, false, true, msgRevoked},
			tc{"genuine seed-era (no kid)/" + victim.sub, sign(t, legacySecret, "", c), true, false, true, msgRevoked},
			tc{"genuine, check_revocation false/" + victim.sub, sign(t, curSecret, "hs-current", c), false, true, false, msgValidNoCheck},
		)
	}
	tests = append(tests,
		tc{"malformed", "not.a.jwt", true, false, false, "Malformed token"},
		tc{"genuine, not revoked, expired", sign(t, curSecret, "hs-current", claimsFor("erin", "0a1b2c3d-0000-4000-8000-000000000003", past.Add(-time.Hour), past)), true, false, false, "Token has expired"},
		tc{"genuine, not revoked", sign(t, curSecret, "hs-current", claimsFor("erin", "0a1b2c3d-0000-4000-8000-000000000004", past, future)), true, true, false, msgValid},
		tc{"genuine, revoked kid in the index", sign(t, curSecret+"-retired", revokedKidName, claimsFor("erin", "0a1b2c3d-0000-4000-8000-000000000005", past, future)), true, false, true, msgRevoked},
		tc{"forged, revoked kid in the index", sign(t, wrongSecret, revokedKidName, claimsFor("erin", "0a1b2c3d-0000-4000-8000-000000000006", past, future)), true, false, false, "Invalid signature"},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]any{"token": tt.tok, "check_revocation": tt.check})
			r := do(t, a, http.MethodPost, "/token/validate", string(body), "")
			var v verdictJSON
			if err := json.Unmarshal(r.Body(), &v); err != nil || r.StatusCode() != http.StatusOK {
				t.Fatalf("validate = %d %s", r.StatusCode(), r.Body())
			}
			if v.Valid != tt.valid || v.Revoked != tt.revoked || v.Message != tt.message {
				t.Fatalf("validate = %s, want valid=%v revoked=%v message %q", r.Body(), tt.valid, tt.revoked, tt.message)
			}
			if !tt.valid && !tt.revoked && v.Claims != nil {
				t.Fatalf("claims of an unverified token returned: %s", r.Body())
			}
			body, _ = json.Marshal(map[string]any{"tokens": []string{tt.tok, tt.tok}, "check_revocation": tt.check})
			r = do(t, a, http.MethodPost, "/token/validate/batch", string(body), "")
			var b struct{ Results []verdictJSON }
			if err := json.Unmarshal(r.Body(), &b); err != nil || len(b.Results) != 2 {
				t.Fatalf("batch = %d %s", r.StatusCode(), r.Body())
			}
			for _, v := range b.Results {
				if v.Valid != tt.valid || v.Revoked != tt.revoked || v.Message != tt.message {
					t.Fatalf("batch = %s, want valid=%v revoked=%v message %q", r.Body(), tt.valid, tt.revoked, tt.message)
				}
			}
		})
	}
}

// truncate drops the last n bytes of tok's signature, re-encoded as
// canonical base64url, so the signature check itself must refuse it.
func truncate(tok string, n int) string {
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		panic(err)
	}
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig[:len(sig)-n])
}

// withSignatureOf returns tok with the signature segment of other.
func withSignatureOf(tok, other string) string {
	i, j := strings.LastIndexByte(tok, '.'), strings.LastIndexByte(other, '.')
	return tok[:i] + other[j:]
}

// TestKeyRevokedInRingIsRevoked: a token whose key was revoked in the ring
// (and removed from service) is revoked when authentic, even with
// check_revocation false and no index entry; a forged one under that kid is
// just a bad signature. A seed-era token of a revoked legacy key likewise.
func TestKeyRevokedInRingIsRevoked(t *testing.T) {
	f := newOracleFixture(t)
	a := f.api(false)
	now := f.now
	c := claimsFor("frank", "0a1b2c3d-0000-4000-8000-000000000007", now.Add(-time.Minute), now.Add(time.Hour))
	genuine, forged := sign(t, curSecret, "hs-current", c), sign(t, wrongSecret, "hs-current", c)
	seed, seedForged := sign(t, legacySecret, "", c), sign(t, wrongSecret, "", c)
	f.ring.Revoke("hs-current")
	f.ring.Revoke(f.legacy.ID)
	for _, tt := range []struct {
		name, tok string
		revoked   bool
	}{{"genuine", genuine, true}, {"forged", forged, false}, {"seed genuine", seed, true}, {"seed forged", seedForged, false}} {
		for _, check := range []bool{true, false} {
			body := `{"token":` + strconv.Quote(tt.tok) + `,"check_revocation":` + strconv.FormatBool(check) + `}`
			var v verdictJSON
			r := do(t, a, http.MethodPost, "/token/validate", body, "")
			if err := json.Unmarshal(r.Body(), &v); err != nil || v.Valid || v.Revoked != tt.revoked {
				t.Errorf("%s (check %v) = %s, want revoked=%v", tt.name, check, r.Body(), tt.revoked)
			}
		}
	}
}

// TestInspectNeedsAdminOutsideDev: /token/inspect reports revocation state
// for unverified claims, so outside --dev it answers 401 (with
// WWW-Authenticate) without the admin key, and 200 with it; --dev keeps it
// open.
func TestInspectNeedsAdminOutsideDev(t *testing.T) {
	f := newOracleFixture(t)
	forged := sign(t, wrongSecret, "hs-current", claimsFor(revokedSub, revokedJTI, f.now, f.now.Add(time.Hour)))
	uri := "/token/inspect?token=" + forged
	prod, dev := f.api(false), f.api(true)
	for _, tt := range []struct {
		name   string
		a      *API
		auth   string
		status int
	}{
		{"production, no key", prod, "", http.StatusUnauthorized},
		{"production, wrong key", prod, "Bearer " + testAdminKey + "x", http.StatusUnauthorized},
		{"production, admin key", prod, "Bearer " + testAdminKey, http.StatusOK},
		{"dev, no key", dev, "", http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.a, http.MethodGet, uri, "", tt.auth)
			var m map[string]any
			if err := json.Unmarshal(r.Body(), &m); err != nil || r.StatusCode() != tt.status {
				t.Fatalf("inspect = %d %s, want %d", r.StatusCode(), r.Body(), tt.status)
			}
			if tt.status == http.StatusUnauthorized {
				if _, ok := m["detail"]; !ok || len(m) != 1 || !strings.HasPrefix(string(r.Header.Peek("WWW-Authenticate")), "Bearer") {
					t.Fatalf("401 = %s, WWW-Authenticate %q", r.Body(), r.Header.Peek("WWW-Authenticate"))
				}
				return
			}
			if m["revoked"] != true || m["revocation_reason"] == nil || m["claims"] == nil || m["note"] == nil {
				t.Fatalf("inspect (authorized) = %s", r.Body())
			}
		})
	}
}
