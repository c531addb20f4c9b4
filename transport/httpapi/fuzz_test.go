package httpapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
)

// requestTypes returns a fresh value of every request body type decoded
// with decodeBody, with the JSON names of its fields.
func requestTypes() []struct {
	dst    func() any
	fields []string
} {
	return []struct {
		dst    func() any
		fields []string
	}{
		{func() any { return new(issueRequest) }, []string{"subject", "expires_minutes", "additional_claims"}},
		{func() any { return new(validateRequest) }, []string{"token", "check_revocation"}},
		{func() any { return new(batchRequest) }, []string{"tokens", "check_revocation"}},
		{func() any { return new(revokeRequest) }, []string{"type", "value", "ttl_seconds", "reason"}},
		{func() any { return new(refreshCreateRequest) }, []string{"subject", "client_binding", "additional_claims"}},
		{func() any { return new(refreshRequest) }, []string{"refresh_token", "client_binding", "client_public_key"}},
	}
}

var decodeSeeds = []string{
	`{"subject":"user123","expires_minutes":30,"additional_claims":{"role":"admin"}}`,
	`{"token":"a.b.c","check_revocation":true}`,
	`{"tokens":["a.b.c","x"],"check_revocation":false}`,
	`{"type":"revoke_jti","value":"x","ttl_seconds":60,"reason":"r"}`,
	`{"subject":"s","client_binding":"b","additional_claims":null}`,
	`{"refresh_token":"r","client_binding":"b","client_public_key":"AAAA"}`,
	`{"subject":5}`, `{"token":null}`, `{"tokens":[null]}`, `{"ttl_seconds":1.5}`, `{"ttl_seconds":1e400}`,
	`{"expires_minutes":"30"}`, `{"check_revocation":"yes"}`, `{"Token":"x"}`, `{"subject":"a","subject":1}`,
	`{"a":`, `[]`, `null`, ``, ` `, `{"a":1} x`, "{\"subject\":\"\xff\"}", `{"a":[[[[[[[[]]]]]]]]}`,
	`{"additional_claims":{"a":{"b":[1,2,{"c":null}]}}}`, `{"tokens":"x"}`, `{"tokens":[1]}`, "\u00a0{}",
}

// FuzzDecodeBody: decodeBody never panics, answers only 400 or 422 with a
// UTF-8 detail, 422 names a field of the schema (or "body"), and accepts
// only JSON objects. A well-formed JSON object is never called malformed.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		trimmed := bytes.TrimSpace(body)
		wellFormed := utf8.Valid(trimmed) && json.Valid(trimmed)
		for _, rt := range requestTypes() {
			dst := rt.dst()
			err := decodeBody(body, dst)
			if err == nil {
				if !wellFormed || trimmed[0] != '{' {
					t.Fatalf("%T: accepted %q, which is not a JSON object", dst, body)
				}
				// Decoding is deterministic.
				again := rt.dst()
				if err := decodeBody(body, again); err != nil {
					t.Fatalf("%T: %q decoded once, then failed: %v", dst, body, err)
				}
				a, _ := json.Marshal(dst)
				b, _ := json.Marshal(again)
				if !bytes.Equal(a, b) {
					t.Fatalf("%T: %q decoded twice differently: %s vs %s", dst, body, a, b)
				}
				continue
			}
			status, detail, ok := answer(err)
			if !ok {
				t.Fatalf("%T: %q: error %v maps to no status (would be a 500)", dst, body, err)
			}
			if status != http.StatusBadRequest && status != http.StatusUnprocessableEntity {
				t.Fatalf("%T: %q: status %d", dst, body, status)
			}
			if detail == "" || !utf8.ValidString(detail) {
				t.Fatalf("%T: %q: detail %q", dst, body, detail)
			}
			if status == http.StatusUnprocessableEntity {
				named := strings.HasPrefix(detail, "body:")
				for _, f := range rt.fields {
					named = named || strings.HasPrefix(detail, f+":") || strings.HasPrefix(detail, f+"[") || strings.HasPrefix(detail, f+".")
				}
				if !named {
					t.Fatalf("%T: %q: 422 detail %q names no field", dst, body, detail)
				}
			}
			// encoding/json refuses nesting beyond 10000 levels; json.Valid
			// does too, so a well-formed object is never "malformed".
			if status == http.StatusBadRequest && wellFormed && len(trimmed) > 0 && trimmed[0] == '{' {
				t.Fatalf("%T: well-formed object %q refused as malformed: %s", dst, body, detail)
			}
		}
	})
}

// wellFormedValue: encoding/json calls UnmarshalJSON only with one
// well-formed JSON value without surrounding whitespace.
func wellFormedValue(b []byte) bool {
	return len(b) > 0 && json.Valid(b) && utf8.Valid(b) && !bytes.ContainsAny(b[:1], " \t\r\n") && !bytes.ContainsAny(b[len(b)-1:], " \t\r\n")
}

// FuzzOptFields: optString, optInt and optBool accept exactly their JSON
// type (and null, which leaves Set false) and decode it faithfully. optInt
// follows pydantic's lax int: an integer literal within int64, or a number
// whose float64 value is integral (as Python's json would parse it).
func FuzzOptFields(f *testing.F) {
	for _, s := range []string{`"a"`, `null`, `true`, `false`, `0`, `-0`, `1.0`, `1.5`, `1e2`, `1e400`, `1e-400`, `-1`,
		`9223372036854775807`, `-9223372036854775808`, `9223372036854775808`, `9.223372036854775807e18`,
		`99999999999999999999`, `"\u00e9\ud83d\ude00"`, `"\ud800"`, `[]`, `{}`, `"1"`, `0.1e1`, `123456789012345678.0`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !wellFormedValue(b) {
			return
		}
		kind := valueKind(b)

		var s optString
		err := s.UnmarshalJSON(b)
		switch kind {
		case "string":
			var want string
			_ = json.Unmarshal(b, &want)
			if err != nil || !s.Set || s.Value != want {
				t.Fatalf("optString %s = %+v %v, want %q", b, s, err, want)
			}
		case "null":
			if err != nil || s.Set {
				t.Fatalf("optString null = %+v %v", s, err)
			}
		default:
			if err == nil || s.Set {
				t.Fatalf("optString accepted %s: %+v", b, s)
			}
			checkTypeError(t, err)
		}

		var bo optBool
		err = bo.UnmarshalJSON(b)
		switch string(b) {
		case "true", "false":
			if err != nil || !bo.Set || bo.Value != (string(b) == "true") {
				t.Fatalf("optBool %s = %+v %v", b, bo, err)
			}
		case "null":
			if err != nil || bo.Set {
				t.Fatalf("optBool null = %+v %v", bo, err)
			}
		default:
			if err == nil || bo.Set {
				t.Fatalf("optBool accepted %s", b)
			}
			checkTypeError(t, err)
		}

		var n optInt
		err = n.UnmarshalJSON(b)
		switch {
		case kind == "null":
			if err != nil || n.Set {
				t.Fatalf("optInt null = %+v %v", n, err)
			}
		case kind != "number":
			if err == nil || n.Set {
				t.Fatalf("optInt accepted %s", b)
			}
			checkTypeError(t, err)
		default:
			want, ok := laxInt(string(b))
			if ok != (err == nil) || (ok && (!n.Set || n.Value != want)) {
				t.Fatalf("optInt %s = %+v %v, want %d ok=%v", b, n, err, want, ok)
			}
			if err != nil {
				checkTypeError(t, err)
			}
		}
	})
}

// laxInt is the reference for optInt: an integer literal in int64 range is
// exact; another number is accepted when its float64 value is integral and
// within int64.
func laxInt(s string) (int64, bool) {
	if !strings.ContainsAny(s, ".eE") {
		v, ok := new(big.Int).SetString(s, 10)
		if ok && v.IsInt64() {
			return v.Int64(), true
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

func checkTypeError(t *testing.T, err error) {
	t.Helper()
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T) is not a type error: the client would get 400 instead of 422", err, err)
	}
}

// FuzzAppendVerdict: when claims is valid JSON (or nil), the response is
// valid UTF-8 JSON that decodes back to the verdict, with the seed's keys
// in the seed's order.
func FuzzAppendVerdict(f *testing.F) {
	f.Add(true, false, uint8(0), []byte(`{"sub":"a","jti":"b","exp":1}`), false)
	f.Add(false, true, uint8(2), []byte(`{"x":"\u2028\"\\</script>"}`), false)
	f.Add(false, false, uint8(5), []byte(nil), true)
	f.Add(false, true, uint8(3), []byte(` [1, 2.5e3, "é", null] `), false)
	msgs := verdictMessages()
	f.Fuzz(func(t *testing.T, valid, revoked bool, mi uint8, claims []byte, nilClaims bool) {
		if nilClaims {
			claims = nil
		} else if !json.Valid(claims) || !utf8.Valid(claims) {
			return
		}
		v := verdict{valid: valid, revoked: revoked, message: msgs[int(mi)%len(msgs)], claims: claims}
		prefix := []byte("junk")
		out := appendVerdict(prefix, v)
		if !bytes.HasPrefix(out, []byte("junk")) {
			t.Fatal("appendVerdict overwrote dst")
		}
		out = out[4:]
		if !json.Valid(out) || !utf8.Valid(out) {
			t.Fatalf("invalid JSON for %+v: %q", v, out)
		}
		var got struct {
			Valid   bool            `json:"valid"`
			Claims  json.RawMessage `json:"claims"`
			Revoked bool            `json:"revoked"`
			Message string          `json:"message"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if got.Valid != valid || got.Revoked != revoked || got.Message != v.message {
			t.Fatalf("round trip %+v -> %s", v, out)
		}
		var wantClaims, gotClaims bytes.Buffer
		if claims == nil {
			claims = []byte("null")
		}
		_ = json.Compact(&wantClaims, claims)
		_ = json.Compact(&gotClaims, got.Claims)
		if !bytes.Equal(wantClaims.Bytes(), gotClaims.Bytes()) {
			t.Fatalf("claims %s came back as %s", wantClaims.Bytes(), gotClaims.Bytes())
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		var keys []string
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		for dec.More() && len(keys) < 10 {
			k, _ := dec.Token()
			keys = append(keys, k.(string))
			var skip json.RawMessage
			_ = dec.Decode(&skip)
		}
		if strings.Join(keys, ",") != "valid,claims,revoked,message" {
			t.Fatalf("keys %v", keys)
		}
	})
}

const fuzzSecret = "fuzz-secret-0123456789abcdef0123456789"

// fuzzAPI is an API with an HS256 key ring and a ready index in which the
// jti "revoked-jti" is revoked.
func fuzzAPI(t testing.TB) (*API, string) {
	key, err := token.NewHMACKey("fuzz-kid", []byte(fuzzSecret))
	if err != nil {
		t.Fatal(err)
	}
	ring := token.NewRing(key)
	ix := index.New(index.Options{})
	ix.RevokeJTI("revoked-jti", time.Now().Add(time.Hour).UnixMilli())
	ix.SetReady()
	a := newTestAPI(t, Deps{
		Options:  Options{Dev: true, MaxBatchTokens: 10},
		Verifier: token.NewVerifier(ring, token.VerifierOptions{Issuer: "fuzz-iss"}),
		Ring:     ring, Index: ix,
	})
	return a, key.ID
}

// signHS256 builds a compact JWS over an arbitrary payload.
func signHS256(kid string, payload []byte) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","kid":` + strconv.Quote(kid) + `}`))
	p := base64.RawURLEncoding.EncodeToString(payload)
	m := hmac.New(sha256.New, []byte(fuzzSecret))
	m.Write([]byte(h + "." + p))
	return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// FuzzValidateSignedPayload signs arbitrary payload bytes with the node's
// key and validates them (single and batch): whatever the token parser
// accepts, the answer is valid UTF-8 JSON, and "valid": true only for a
// payload that is a JSON object with the configured issuer.
func FuzzValidateSignedPayload(f *testing.F) {
	for _, s := range []string{
		`{"sub":"a","iss":"fuzz-iss","exp":9999999999,"jti":"j","iat":1}`,
		`{"sub":"a","iss":"fuzz-iss","exp":9999999999,"jti":"revoked-jti"}`,
		`{"sub":"a","iss":"fuzz-iss","exp":9999999999,"x":"\u0000\ud83d\ude00","n":-1.5e-3,"a":[{},[],null]}`,
		`{"sub":"a","iss":"fuzz-iss","exp":1}`, `{"iss":"fuzz-iss","exp":9999999999,"typ":"refresh"}`,
		`{"sub":"a","iss":"fuzz-iss","exp":9999999999,"sub":"b"}`, `[]`, `{"sub":"\xff"}`, `{"exp":01}`,
	} {
		f.Add([]byte(s), false)
	}
	a, kid := fuzzAPI(f)
	h := a.Handler()
	f.Fuzz(func(t *testing.T, payload []byte, wrongSig bool) {
		tok := signHS256(kid, payload)
		if wrongSig {
			// Flip one signature character (not the last: its low bits
			// are padding).
			i := len(tok) - 5
			c := byte('A')
			if tok[i] == 'A' {
				c = 'B'
			}
			tok = tok[:i] + string(c) + tok[i+1:]
		}
		for _, req := range []struct{ path, body string }{
			{"/token/validate", `{"token":` + strconv.Quote(tok) + `}`},
			{"/token/validate/batch", `{"tokens":[` + strconv.Quote(tok) + `,"x"]}`},
		} {
			var ctx fasthttp.RequestCtx
			ctx.Request.Header.SetMethod("POST")
			ctx.Request.SetRequestURI(req.path)
			ctx.Request.SetBodyString(req.body)
			h(&ctx)
			out := ctx.Response.Body()
			if ctx.Response.StatusCode() != 200 {
				t.Fatalf("%s: status %d %s", req.path, ctx.Response.StatusCode(), out)
			}
			if !json.Valid(out) || !utf8.Valid(out) {
				t.Fatalf("%s: payload %q gives an invalid JSON answer: %q", req.path, payload, out)
			}
			if req.path != "/token/validate" {
				continue
			}
			var v struct {
				Valid  bool           `json:"valid"`
				Claims map[string]any `json:"claims"`
			}
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("answer %s: %v", out, err)
			}
			if v.Valid && (wrongSig || v.Claims["iss"] != "fuzz-iss") {
				t.Fatalf("valid verdict for payload %q (wrong signature %v): %s", payload, wrongSig, out)
			}
		}
	})
}
