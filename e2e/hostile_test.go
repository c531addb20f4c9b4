package e2e

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// hostileMaxBody is MAX_BODY_BYTES of the hostile node: large enough to
// carry tokens with 1 MB segments, so they reach the token parser.
const hostileMaxBody = 4 << 20

// hcase is one hostile request and the answer it must get.
type hcase struct {
	name   string
	method string
	path   string
	ctype  string // Content-Type; "" means application/json
	body   string
	status []int  // acceptable statuses
	detail string // for non-2xx: substring of "detail" (case-insensitive)
	// check, when set, inspects a 2xx body.
	check func(t *testing.T, body []byte)
}

// jsonEndpoint describes a JSON endpoint's schema for generated cases.
type jsonEndpoint struct {
	path   string
	fields []fieldSpec
	// base holds valid values for the required fields; a case changes one
	// field and never sends base unchanged to a state-changing endpoint.
	base map[string]any
	// unknown is a body with unknown fields and its expected status: unknown
	// fields are ignored (pydantic-compatible), so the answer is the one of
	// the body without them.
	unknown       map[string]any
	unknownStatus int
	unknownDetail string
}

type fieldSpec struct {
	name     string
	kind     string // str, int, bool, obj, strarr
	required bool
}

var wrongValues = map[string][]string{
	"str":    {`5`, `1.5`, `true`, `[]`, `{}`, `["a"]`, `{"a":"b"}`, `-0`, `1e999`},
	"int":    {`"30"`, `true`, `[]`, `{}`, `1.5`, `1e400`, `99999999999999999999`, `"1"`, `[1]`, `{"v":1}`},
	"bool":   {`"true"`, `1`, `0`, `[]`, `{}`, `"yes"`, `[true]`},
	"obj":    {`"x"`, `5`, `true`, `[]`, `["a"]`, `[{}]`},
	"strarr": {`"x"`, `5`, `true`, `{}`, `[1]`, `[true]`, `[[]]`, `[{}]`, `[null]`, `["a",7]`},
}

func jsonEndpoints() []jsonEndpoint {
	unk := func(m map[string]any) map[string]any {
		m["unknown_field"] = map[string]any{"nested": []any{1, "two", nil}}
		m["__proto__"] = map[string]any{"admin": true}
		m["constructor"] = []any{}
		m["x-y"] = "z"
		return m
	}
	return []jsonEndpoint{
		{
			path:    "/token",
			fields:  []fieldSpec{{"subject", "str", true}, {"expires_minutes", "int", false}, {"additional_claims", "obj", false}},
			base:    map[string]any{"subject": "hostile-subject"},
			unknown: unk(map[string]any{"subject": "hostile-unknown-fields"}), unknownStatus: 200,
		},
		{
			path:    "/token/validate",
			fields:  []fieldSpec{{"token", "str", true}, {"check_revocation", "bool", false}},
			base:    map[string]any{"token": "not-a-token"},
			unknown: unk(map[string]any{"token": "not-a-token"}), unknownStatus: 200,
		},
		{
			path:    "/token/validate/batch",
			fields:  []fieldSpec{{"tokens", "strarr", true}, {"check_revocation", "bool", false}},
			base:    map[string]any{"tokens": []string{"not-a-token"}},
			unknown: unk(map[string]any{"tokens": []string{"a", "b"}}), unknownStatus: 200,
		},
		{
			path:    "/revoke",
			fields:  []fieldSpec{{"type", "str", true}, {"value", "str", true}, {"ttl_seconds", "int", false}, {"reason", "str", false}},
			base:    map[string]any{"type": "revoke_jti", "value": "hostile-must-never-be-revoked"},
			unknown: unk(map[string]any{"type": "revoke_jti"}), unknownStatus: 422, unknownDetail: "value",
		},
		{
			path:    "/token/refresh/create",
			fields:  []fieldSpec{{"subject", "str", true}, {"client_binding", "str", true}, {"additional_claims", "obj", false}},
			base:    map[string]any{"subject": "hostile-subject", "client_binding": "hostile-device"},
			unknown: unk(map[string]any{"subject": "hostile-unknown-fields", "client_binding": "d"}), unknownStatus: 200,
		},
		{
			path:    "/token/refresh",
			fields:  []fieldSpec{{"refresh_token", "str", true}, {"client_binding", "str", true}, {"client_public_key", "str", false}},
			base:    map[string]any{"refresh_token": "not-a-token", "client_binding": "hostile-device"},
			unknown: unk(map[string]any{"refresh_token": "not-a-token", "client_binding": "d"}), unknownStatus: 401, unknownDetail: "refresh token",
		},
		{
			path:    "/token/refresh/revoke",
			fields:  []fieldSpec{{"refresh_token", "str", true}},
			base:    map[string]any{"refresh_token": "not-a-token"},
			unknown: unk(map[string]any{"refresh_token": "not-a-token"}), unknownStatus: 401, unknownDetail: "refresh token",
		},
	}
}

// withField returns base with name set to the raw JSON value raw (or removed
// when raw is ""), as a JSON object text.
func withField(base map[string]any, name, raw string) string {
	m := map[string]json.RawMessage{}
	for k, v := range base {
		b, _ := json.Marshal(v)
		m[k] = b
	}
	if raw == "" {
		delete(m, name)
	} else {
		m[name] = json.RawMessage(raw)
	}
	// json.Marshal would compact (and reject) some raw values; build by hand.
	var sb strings.Builder
	sb.WriteByte('{')
	i := 0
	for k, v := range m {
		if i > 0 {
			sb.WriteByte(',')
		}
		i++
		kb, _ := json.Marshal(k)
		sb.Write(kb)
		sb.WriteByte(':')
		sb.Write(v)
	}
	sb.WriteByte('}')
	return sb.String()
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func st(codes ...int) []int { return codes }

// hostileCases builds the table over every endpoint.
func hostileCases(refreshTok string) []hcase {
	var cs []hcase
	add := func(c hcase) { cs = append(cs, c) }
	deepOpen := strings.Repeat("[", 100_000)
	deepObj := strings.Repeat(`{"a":`, 100_000)
	deepClosed := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	mb := strings.Repeat("A", 1<<20)
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	pay := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x","exp":9999999999}`))

	for _, ep := range jsonEndpoints() {
		p := ep.path
		first := ep.fields[0].name
		malformed := []string{`{"a":`, `{`, `}`, `{"a" 1}`, `{'a':1}`, `{"a":1,}`, `{,}`, `[`, `nul`, `tru`, `{"a":01}`,
			`{"a":"\x"}`, `{"a":"\u12"}`, `{"a":NaN}`, `{"a":Infinity}`, `{"a":-}`, `{"a":1}}`, `{"a":1}{"b":2}`,
			`/* comment */{}`, `{"a":"unterminated}`, `{"a":1} x`, "\ufeff{}", `{"a":.5}`, `{"a":+1}`, `{"a":0x10}`}
		for i, b := range malformed {
			add(hcase{name: fmt.Sprintf("%s malformed %d", p, i), method: "POST", path: p, body: b, status: st(400), detail: "malformed"})
		}
		for i, b := range []string{`[]`, `1`, `null`, `true`, `[{"token":"x"}]`} {
			add(hcase{name: fmt.Sprintf("%s not an object %d", p, i), method: "POST", path: p, body: b, status: st(422), detail: "body"})
		}
		for i, b := range []string{"", " ", "\r\n\t "} {
			add(hcase{name: fmt.Sprintf("%s empty %d", p, i), method: "POST", path: p, body: b, status: st(400), detail: "empty"})
		}
		add(hcase{name: p + " 100k [", method: "POST", path: p, body: deepOpen, status: st(400), detail: "malformed"})
		add(hcase{name: p + " 100k {\"a\":", method: "POST", path: p, body: deepObj, status: st(400), detail: "malformed"})
		add(hcase{name: p + " 100k closed []", method: "POST", path: p, body: deepClosed, status: st(400), detail: "malformed"})
		add(hcase{name: p + " 100k deep in unknown field", method: "POST", path: p, body: withField(ep.base, "deep", deepClosed), status: st(400), detail: "malformed"})
		add(hcase{name: p + " 100k deep in " + first, method: "POST", path: p, body: withField(ep.base, first, deepClosed), status: st(400, 422)})
		// Invalid UTF-8 (RFC 8259 requires UTF-8): lone continuation byte,
		// overlong '/', UTF-8-encoded surrogate, truncated sequence, bad key.
		for name, bad := range map[string]string{"ff": "\xff\xfe", "overlong": "\xc0\xaf", "surrogate": "\xed\xa0\x80", "truncated": "\xe2\x82"} {
			add(hcase{name: p + " invalid utf-8 " + name, method: "POST", path: p, body: `{"` + first + `":"a` + bad + `b"}`, status: st(400), detail: "utf-8"})
		}
		add(hcase{name: p + " invalid utf-8 key", method: "POST", path: p, body: "{\"\xff\":1}", status: st(400), detail: "utf-8"})
		// NUL bytes: raw in a string (a control character: malformed), as
		// the whole body, and after the object.
		add(hcase{name: p + " raw NUL in string", method: "POST", path: p, body: `{"` + first + "\":\"a\x00b\"}", status: st(400), detail: "malformed"})
		add(hcase{name: p + " NUL body", method: "POST", path: p, body: "\x00", status: st(400), detail: "malformed"})
		add(hcase{name: p + " NUL after object", method: "POST", path: p, body: mustJSON(ep.base) + "\x00", status: st(400), detail: "malformed"})
		// Wrong types for every field, null for every required field.
		for _, f := range ep.fields {
			for i, w := range wrongValues[f.kind] {
				detail := f.name
				add(hcase{name: fmt.Sprintf("%s %s wrong type %d", p, f.name, i), method: "POST", path: p, body: withField(ep.base, f.name, w), status: st(422), detail: detail})
			}
			if f.required {
				add(hcase{name: fmt.Sprintf("%s %s null", p, f.name), method: "POST", path: p, body: withField(ep.base, f.name, "null"), status: st(422), detail: f.name})
			}
		}
		// Duplicate keys where the last one has the wrong type.
		add(hcase{name: p + " duplicate key, last wrong type", method: "POST", path: p,
			body: strings.TrimSuffix(mustJSON(ep.base), "}") + `,"` + first + `":12345}`, status: st(422), detail: first})
		// Unknown fields are ignored.
		add(hcase{name: p + " unknown fields ignored", method: "POST", path: p, body: mustJSON(ep.unknown), status: st(ep.unknownStatus), detail: ep.unknownDetail})
	}

	// Bare-string form of /token/refresh/revoke (the seed's logout body).
	rr := "/token/refresh/revoke"
	for i, b := range []string{`"abc`, `"\x"`, `"a" "b"`, `"a"x`, "\"a\x00b\"", `"\ud800`} {
		add(hcase{name: fmt.Sprintf("%s bare malformed %d", rr, i), method: "POST", path: rr, body: b, status: st(400), detail: "malformed"})
	}
	add(hcase{name: rr + " bare invalid utf-8", method: "POST", path: rr, body: "\"\xff\xfe\"", status: st(400), detail: "utf-8"})
	add(hcase{name: rr + " bare empty string", method: "POST", path: rr, body: `""`, status: st(401), detail: "refresh token"})
	add(hcase{name: rr + " bare escaped NUL", method: "POST", path: rr, body: `"\u0000"`, status: st(401), detail: "refresh token"})
	add(hcase{name: rr + " bare 1 MB token", method: "POST", path: rr, body: `"` + mb + "." + mb + "." + mb + `"`, status: st(401), detail: "too large"})
	add(hcase{name: rr + " bare access token, wrong kind", method: "POST", path: rr, body: `"` + hdr + "." + pay + ".sig" + `"`, status: st(401, 422)})

	// Values that are the right type but hostile.
	vt := "/token/validate"
	validInvalid := func(msg string) func(t *testing.T, b []byte) {
		return func(t *testing.T, b []byte) {
			var v map[string]any
			if err := json.Unmarshal(b, &v); err != nil || v["valid"] != false || v["revoked"] != false || (msg != "" && v["message"] != msg) {
				t.Fatalf("got %s, want valid=false revoked=false message %q", b, msg)
			}
		}
	}
	for name, tok := range map[string]string{
		"1 MB header segment":    mb + "." + pay + ".c2ln",
		"1 MB payload segment":   hdr + "." + mb + ".c2ln",
		"1 MB signature segment": hdr + "." + pay + "." + mb,
		"three 1 MB segments":    mb + "." + mb + "." + mb,
		"100k dots":              strings.Repeat(".", 100_000),
		"1 MB of dots and As":    strings.Repeat("A.", 1<<19),
	} {
		add(hcase{name: vt + " " + name, method: "POST", path: vt, body: mustJSON(map[string]any{"token": tok}), status: st(200), check: validInvalid("Token is too large")})
	}
	for name, tok := range map[string]string{
		"escaped NUL":          "\x00",
		"NUL inside token":     hdr + "\x00." + pay + ".c2ln",
		"newline in segment":   hdr + "\n." + pay + ".c2ln",
		"padding":              hdr + "==." + pay + ".c2ln",
		"std base64 chars":     hdr + "+/." + pay + ".c2ln",
		"payload not JSON":     hdr + "." + base64.RawURLEncoding.EncodeToString([]byte("\xff\xfe")) + ".c2ln",
		"payload deep nesting": hdr + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("[", 10_000))) + ".c2ln",
		"payload dup claims":   hdr + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"a","sub":"b","exp":9999999999}`)) + ".c2ln",
		"header alg none":      base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + pay + ".",
		"header crit":          base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","crit":["exp"]}`)) + "." + pay + ".c2ln",
		"header kid traversal": base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"../../etc/passwd"}`)) + "." + pay + ".c2ln",
		"header jku":           base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","jku":"http://127.0.0.1:1/"}`)) + "." + pay + ".c2ln",
		"unicode escapes":      `\u0065\u0079`,
	} {
		add(hcase{name: vt + " " + name, method: "POST", path: vt, body: mustJSON(map[string]any{"token": tok}), status: st(200), check: validInvalid("")})
	}
	add(hcase{name: vt + " lone surrogate escape", method: "POST", path: vt, body: `{"token":"\ud800.\udfff.\u0000"}`, status: st(200), check: validInvalid("")})
	vb := "/token/validate/batch"
	add(hcase{name: vb + " three 1 MB tokens", method: "POST", path: vb, body: mustJSON(map[string]any{"tokens": []string{mb, mb + "." + mb + ".x", hdr + "." + strings.Repeat("B", 100_000) + ".x"}}), status: st(200),
		check: func(t *testing.T, b []byte) {
			var r struct {
				Results []map[string]any `json:"results"`
			}
			if err := json.Unmarshal(b, &r); err != nil || len(r.Results) != 3 {
				t.Fatalf("batch: %s", b[:min(len(b), 300)])
			}
			for _, v := range r.Results {
				if v["valid"] != false {
					t.Fatalf("batch result %v", v)
				}
			}
		}})
	add(hcase{name: vb + " 1001 tokens", method: "POST", path: vb, body: mustJSON(map[string]any{"tokens": make([]string, 1001)}), status: st(422), detail: "tokens"})
	add(hcase{name: vb + " empty list", method: "POST", path: vb, body: `{"tokens":[]}`, status: st(200)})
	add(hcase{name: "/token 1 MB subject", method: "POST", path: "/token", body: mustJSON(map[string]any{"subject": mb}), status: st(422), detail: "subject"})
	add(hcase{name: "/token empty subject", method: "POST", path: "/token", body: `{"subject":""}`, status: st(422), detail: "subject"})
	add(hcase{name: "/token expires_minutes -1", method: "POST", path: "/token", body: `{"subject":"a","expires_minutes":-1}`, status: st(422), detail: "expires_minutes"})
	add(hcase{name: "/token expires_minutes min int64", method: "POST", path: "/token", body: `{"subject":"a","expires_minutes":-9223372036854775808}`, status: st(422), detail: "expires_minutes"})
	add(hcase{name: "/token expires_minutes max int64", method: "POST", path: "/token", body: `{"subject":"a","expires_minutes":9223372036854775807}`, status: st(422), detail: "expires_minutes"})
	add(hcase{name: "/token override jti", method: "POST", path: "/token", body: `{"subject":"a","additional_claims":{"jti":"x"}}`, status: st(422), detail: "additional_claims"})
	add(hcase{name: "/token override iss", method: "POST", path: "/token", body: `{"subject":"a","additional_claims":{"iss":"evil"}}`, status: st(422), detail: "additional_claims"})
	add(hcase{name: "/token override typ", method: "POST", path: "/token", body: `{"subject":"a","additional_claims":{"typ":"refresh"}}`, status: st(422), detail: "additional_claims"})
	rv := "/revoke"
	for name, b := range map[string]string{
		"1 MB value":          mustJSON(map[string]any{"type": "revoke_jti", "value": mb}),
		"value 1025 bytes":    mustJSON(map[string]any{"type": "revoke_jti", "value": strings.Repeat("v", 1025)}),
		"1 MB reason":         mustJSON(map[string]any{"type": "revoke_jti", "value": "hostile-never", "reason": mb}),
		"type case variant":   `{"type":"REVOKE_JTI","value":"hostile-never"}`,
		"type with NUL":       `{"type":"revoke_jti\u0000","value":"hostile-never"}`,
		"type trailing space": `{"type":"revoke_jti ","value":"hostile-never"}`,
		"ttl zero":            `{"type":"revoke_jti","value":"hostile-never","ttl_seconds":0}`,
		"ttl > 10 years":      `{"type":"revoke_jti","value":"hostile-never","ttl_seconds":315360001}`,
		"ttl max int64":       `{"type":"revoke_jti","value":"hostile-never","ttl_seconds":9223372036854775807}`,
		"ttl min int64":       `{"type":"revoke_jti","value":"hostile-never","ttl_seconds":-9223372036854775808}`,
		"ttl 2^63 as float":   `{"type":"revoke_jti","value":"hostile-never","ttl_seconds":9.223372036854775807e18}`,
	} {
		add(hcase{name: rv + " " + name, method: "POST", path: rv, body: b, status: st(422)})
	}
	rc := "/token/refresh/create"
	add(hcase{name: rc + " 1 MB binding", method: "POST", path: rc, body: mustJSON(map[string]any{"subject": "a", "client_binding": mb}), status: st(422), detail: "client_binding"})
	add(hcase{name: rc + " empty binding", method: "POST", path: rc, body: `{"subject":"a","client_binding":""}`, status: st(422), detail: "client_binding"})
	rf := "/token/refresh"
	add(hcase{name: rf + " 1 MB refresh token", method: "POST", path: rf, body: mustJSON(map[string]any{"refresh_token": mb + "." + mb + "." + mb, "client_binding": "d"}), status: st(401), detail: "too large"})
	add(hcase{name: rf + " access token as refresh", method: "POST", path: rf, body: mustJSON(map[string]any{"refresh_token": hdr + "." + pay + ".sig", "client_binding": "d"}), status: st(401)})
	// A real refresh token with a hostile client_public_key: 422, and the
	// token is not rotated (checked after the table).
	for name, k := range map[string]string{
		"1 MB key":        base64.StdEncoding.EncodeToString([]byte(mb)),
		"1185 bytes":      base64.StdEncoding.EncodeToString(make([]byte, 1185)),
		"not base64":      "%%%",
		"url-safe base64": strings.Repeat("_-", 22),
		"empty":           "",
		"all-zero x25519": base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"NUL":             "\x00",
	} {
		add(hcase{name: rf + " client_public_key " + name, method: "POST", path: rf,
			body: mustJSON(map[string]any{"refresh_token": refreshTok, "client_binding": "hostile-phone", "client_public_key": k}), status: st(422), detail: "client_public_key"})
	}
	add(hcase{name: rf + " wrong binding case", method: "POST", path: rf, body: mustJSON(map[string]any{"refresh_token": "x", "client_binding": strings.Repeat("b", 1025)}), status: st(422), detail: "client_binding"})

	// GET /token/inspect: hostile query strings.
	in := "/token/inspect"
	inspectErr := func(t *testing.T, b []byte) {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil || m["revoked"] != false || m["claims"] != nil {
			t.Fatalf("inspect: %s", b)
		}
	}
	for name, q := range map[string]string{
		"garbage":          "?token=garbage",
		"NUL":              "?token=%00",
		"invalid utf-8":    "?token=%ff%fe",
		"empty segments":   "?token=..",
		"7 KB token":       "?token=" + strings.Repeat("A", 7000) + ".B.C",
		"bad percent":      "?token=%zz%",
		"duplicate params": "?token=a&token=b",
		"newline":          "?token=a%0d%0aSet-Cookie:%20x",
	} {
		add(hcase{name: in + " " + name, method: "GET", path: in + q, status: st(200), check: inspectErr})
	}
	add(hcase{name: in + " empty token", method: "GET", path: in + "?token=", status: st(422), detail: "token"})
	add(hcase{name: in + " JSON body instead of query", method: "GET", path: in, body: `{"token":"x"}`, status: st(422), detail: "token"})
	add(hcase{name: in + " POST", method: "POST", path: in, body: `{}`, status: st(405), detail: "method"})

	// GET /revocations: hostile query strings.
	fd := "/revocations"
	for name, q := range map[string]string{
		"after abc": "?after=abc", "after -1": "?after=-1", "limit 0": "?limit=0", "limit 1001": "?limit=1001",
		"after 1e3": "?after=1e3", "after overflow": "?after=99999999999999999999", "after NUL": "?after=%00",
		"limit -1": "?limit=-1", "after hex": "?after=0x10", "after space": "?after=%201", "limit huge": "?limit=9223372036854775807",
		"after float": "?after=1.0",
	} {
		add(hcase{name: fd + " " + name, method: "GET", path: fd + q, status: st(422)})
	}
	add(hcase{name: fd + " POST", method: "POST", path: fd, body: `{}`, status: st(405), detail: "method"})

	// RFC 7009 / 7662 endpoints: form-encoded.
	form := "application/x-www-form-urlencoded"
	for _, p := range []string{"/oauth2/revoke", "/oauth2/introspect"} {
		add(hcase{name: p + " JSON body", method: "POST", path: p, body: `{"token":"x"}`, status: st(400), detail: "invalid_request"})
		add(hcase{name: p + " no token", method: "POST", path: p, ctype: form, body: "token_type_hint=access_token", status: st(400), detail: "invalid_request"})
		add(hcase{name: p + " empty token", method: "POST", path: p, ctype: form, body: "token=", status: st(400), detail: "invalid_request"})
		add(hcase{name: p + " deep nesting as form", method: "POST", path: p, ctype: form, body: deepOpen, status: st(400), detail: "invalid_request"})
		add(hcase{name: p + " GET", method: "GET", path: p, status: st(405), detail: "method"})
		for name, b := range map[string]string{
			"garbage": "token=garbage", "NUL": "token=%00", "invalid utf-8": "token=%ff%fe", "bad percent": "token=%zz",
			"duplicate": "token=a&token=b", "1 MB token": "token=" + mb + "." + mb + "." + mb, "raw invalid utf-8": "token=\xff\xfe",
			"many params": strings.Repeat("a=b&", 50_000) + "token=x",
		} {
			c := hcase{name: p + " " + name, method: "POST", path: p, ctype: form, body: b, status: st(200)}
			if p == "/oauth2/introspect" {
				c.check = func(t *testing.T, body []byte) {
					if strings.TrimSpace(string(body)) != `{"active":false}` {
						t.Fatalf("introspect: %s", body)
					}
				}
			}
			add(c)
		}
	}
	// POST /admin/keys/rotate takes no body; it is ignored (dev node: 200).
	add(hcase{name: "/admin/keys/rotate GET", method: "GET", path: "/admin/keys/rotate", status: st(405), detail: "method"})
	add(hcase{name: "/admin/keys/rotate malformed body ignored", method: "POST", path: "/admin/keys/rotate", body: deepOpen, status: st(200)})
	add(hcase{name: "unknown path", method: "POST", path: "/token/validate/", body: `{}`, status: st(404), detail: "not found"})
	add(hcase{name: "path traversal", method: "GET", path: "/docs/../../../../etc/passwd", status: st(404), detail: "not found"})
	add(hcase{name: "encoded traversal", method: "GET", path: "/docs/..%2f..%2fetc%2fpasswd", status: st(404), detail: "not found"})
	add(hcase{name: "TRACE", method: "TRACE", path: "/token/validate", status: st(405), detail: "method"})
	return cs
}

// allEndpoints is every API endpoint with its method.
var allEndpoints = [][2]string{
	{"POST", "/token"}, {"POST", "/token/validate"}, {"POST", "/token/validate/batch"}, {"GET", "/token/inspect"},
	{"POST", "/revoke"}, {"POST", "/token/refresh/create"}, {"POST", "/token/refresh"}, {"POST", "/token/refresh/revoke"},
	{"POST", "/oauth2/revoke"}, {"POST", "/oauth2/introspect"}, {"GET", "/revocations"}, {"POST", "/admin/keys/rotate"},
}

// checkErrorBody requires a JSON {"detail": "..."} body mentioning want.
func checkErrorBody(t *testing.T, status int, ctype string, body []byte, want string) {
	t.Helper()
	if !strings.HasPrefix(ctype, "application/json") {
		t.Errorf("status %d: Content-Type %q, want application/json", status, ctype)
	}
	if !utf8.Valid(body) {
		t.Errorf("status %d: body is not UTF-8: %q", status, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("status %d: body is not a JSON object: %q", status, body[:min(len(body), 300)])
	}
	d, ok := m["detail"].(string)
	if !ok || d == "" {
		t.Fatalf("status %d: no string detail: %s", status, body)
	}
	if !strings.Contains(strings.ToLower(d), strings.ToLower(want)) {
		t.Errorf("status %d: detail %q does not mention %q", status, d, want)
	}
}

// rawExchange writes req on a fresh connection and reads one response. The
// write runs concurrently: the server may answer before reading it all.
func rawExchange(addr string, req []byte, timeout time.Duration) (*http.Response, []byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	go func() { _, _ = conn.Write(req) }()
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	for i := 0; err == nil && resp.StatusCode == http.StatusContinue && i < 3; i++ {
		resp, err = http.ReadResponse(br, nil) // the final answer follows
	}
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body, err
}

// rawCase sends a raw HTTP request (retrying a reset that beat the answer)
// and requires one of statuses with a JSON error body.
func rawCase(t *testing.T, addr string, req []byte, want string, statuses ...int) {
	t.Helper()
	var resp *http.Response
	var body []byte
	var err error
	for try := 0; try < 3; try++ {
		resp, body, err = rawExchange(addr, req, 10*time.Second)
		if err == nil || !isReset(err) {
			break
		}
	}
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	if !contains(statuses, resp.StatusCode) {
		t.Fatalf("status %d, want %v: %s", resp.StatusCode, statuses, body)
	}
	checkErrorBody(t, resp.StatusCode, resp.Header.Get("Content-Type"), body, want)
}

func isReset(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || strings.Contains(err.Error(), "reset")
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func alive(t *testing.T, n *node) {
	t.Helper()
	select {
	case <-n.done:
		t.Fatalf("revocd exited:\n%s", tail(n.log.String(), 4000))
	default:
	}
}

// TestHostileInput sends hostile requests to every endpoint of a dev node,
// while a slowloris trickles and many clients connect, and then checks that
// nothing changed: no revocation in the audit log, a token issued before is
// still valid, a refresh token is still usable, and the process is alive.
func TestHostileInput(t *testing.T) {
	n := startNode(t, "", []string{"HTTP_READ_TIMEOUT_SECONDS=3"}, "--max-body-bytes", strconv.Itoa(hostileMaxBody))
	before, _ := n.issue("hostile-victim")
	rc := n.post("/token/refresh/create", map[string]any{"subject": "hostile-victim", "client_binding": "hostile-phone"}, 200)
	refreshTok := rc["refresh_token"].(string)
	start := time.Now()

	t.Run("group", func(t *testing.T) {
		t.Run("table", func(t *testing.T) {
			t.Parallel()
			c := newAPIClient(n.URL, 20*time.Second)
			defer c.close()
			for _, tc := range hostileCases(refreshTok) {
				t.Run(tc.name, func(t *testing.T) {
					ctype := tc.ctype
					if ctype == "" {
						ctype = "application/json"
					}
					var body any
					if tc.body != "" || tc.method == "POST" {
						body = tc.body
					}
					status, respBody, hdr, err := c.callFull(tc.method, tc.path, body, "Content-Type", ctype)
					if err != nil {
						t.Fatalf("%s %s: %v", tc.method, tc.path, err)
					}
					if !contains(tc.status, status) {
						t.Fatalf("status %d, want %v: %s", status, tc.status, respBody[:min(len(respBody), 400)])
					}
					if status >= 300 {
						checkErrorBody(t, status, hdr.Get("Content-Type"), respBody, tc.detail)
						return
					}
					if len(respBody) > 0 && strings.HasPrefix(hdr.Get("Content-Type"), "application/json") && (!json.Valid(respBody) || !utf8.Valid(respBody)) {
						t.Fatalf("2xx body is not valid UTF-8 JSON: %q", respBody[:min(len(respBody), 300)])
					}
					if tc.check != nil {
						tc.check(t, respBody)
					}
				})
			}
		})
		t.Run("http", func(t *testing.T) {
			t.Parallel()
			hostileHTTP(t, n)
		})
		t.Run("slowloris", func(t *testing.T) {
			t.Parallel()
			slowloris(t, n)
		})
		t.Run("many connections", func(t *testing.T) {
			t.Parallel()
			manyConnections(t, n, before)
		})
	})

	// Nothing changed.
	alive(t, n)
	if r := n.do("GET", "/health", nil); r.Status != 200 {
		t.Fatalf("/health after the table: %d", r.Status)
	}
	if evs := revocationEvents(t, n.do("GET", "/revocations?after=0", nil).Body); len(evs) != 0 {
		t.Errorf("hostile input changed the audit log: %v", evs)
	}
	if v := n.validate(before); v["valid"] != true {
		t.Errorf("token issued before the table: %v", v)
	}
	// The hostile client_public_key cases did not rotate the refresh token.
	if r := n.do("POST", "/token/refresh", map[string]any{"refresh_token": refreshTok, "client_binding": "hostile-phone"}); r.Status != 200 {
		t.Errorf("refresh token after the table: %d %s", r.Status, r.Body)
	}
	t.Logf("hostile input took %v", time.Since(start).Round(time.Millisecond))
}

// callFull is call returning the response headers too.
func (c *apiClient) callFull(method, path string, body any, headers ...string) (int, []byte, http.Header, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if c.auth != "" {
		req.Header.Set("Authorization", "Bearer "+c.auth)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

// hostileHTTP sends malformed HTTP: huge bodies and headers on every
// endpoint, and request-smuggling shapes.
func hostileHTTP(t *testing.T, n *node) {
	big := strings.Repeat("a", 64<<10)
	for _, ep := range allEndpoints {
		m, p := ep[0], ep[1]
		t.Run("413 "+m+" "+p, func(t *testing.T) {
			// Announce a body one byte over the limit and send none of it:
			// the server must refuse from the header alone.
			req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", m, p, hostileMaxBody+1)
			rawCase(t, n.Addr, []byte(req), "too large", 413)
		})
		t.Run("64KiB header "+m+" "+p, func(t *testing.T) {
			req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\nContent-Length: 2\r\n\r\n{}", m, p, big)
			rawCase(t, n.Addr, []byte(req), "", 431, 400)
		})
	}
	chunked := func(size int) string {
		var sb strings.Builder
		sb.WriteString("POST /token/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
		for left := size; left > 0; {
			k := min(left, 1<<20)
			fmt.Fprintf(&sb, "%x\r\n%s\r\n", k, strings.Repeat("a", k))
			left -= k
		}
		sb.WriteString("0\r\n\r\n")
		return sb.String()
	}
	cases := []struct {
		name, req, detail string
		status            []int
	}{
		{"chunked body over the limit", chunked(hostileMaxBody + 1), "too large", st(413)},
		{"Content-Length overflow", "POST /token/validate HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", "", st(400, 413)},
		{"negative Content-Length", "POST /token/validate HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "", st(400)},
		{"conflicting Content-Length", "POST /token/validate HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x", "", st(400)},
		{"2000 headers", "GET /health HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: b\r\n", 2000) + "\r\n", "", st(431, 400)},
		{"100 KB URL", "GET /token/inspect?token=" + strings.Repeat("A", 100<<10) + " HTTP/1.1\r\nHost: x\r\n\r\n", "", st(431, 414, 400)},
		{"1 MB token in query", "GET /token/inspect?token=" + strings.Repeat("A", 1<<20) + " HTTP/1.1\r\nHost: x\r\n\r\n", "", st(431, 414, 400)},
		{"NUL in header value", "GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", "", st(400)},
		{"header without colon", "GET /health HTTP/1.1\r\nHost: x\r\nX-A b\r\n\r\n", "", st(400)},
		{"garbage request line", "GARBAGE\r\n\r\n", "", st(400, 404, 405)},
		{"Expect 100-continue with a huge body", fmt.Sprintf("POST /token/validate HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", hostileMaxBody*4), "too large", st(413)},
		{"bad chunk size", "POST /token/validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", "", st(400)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { rawCase(t, n.Addr, []byte(c.req), c.detail, c.status...) })
	}
	// A request line with NUL and raw invalid UTF-8 in the path: any error
	// status with a JSON body, and the server keeps serving.
	for name, req := range map[string]string{
		"NUL in path":        "GET /hea\x00lth HTTP/1.1\r\nHost: x\r\n\r\n",
		"invalid utf-8 path": "GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
		"absolute-form URL":  "GET http://evil.example/revocations?after=0 HTTP/1.1\r\nHost: x\r\n\r\n",
		"CL and TE both":     "POST /token/validate HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.0 no Host":   "POST /token/validate HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}",
		"obs-fold header":    "GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
		"lowercase method":   "post /token/validate HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
	} {
		t.Run(name, func(t *testing.T) {
			resp, body, err := rawExchange(n.Addr, []byte(req), 10*time.Second)
			if err != nil {
				t.Logf("%s: connection ended without an answer: %v", name, err)
			} else {
				t.Logf("%s: %d %s", name, resp.StatusCode, body[:min(len(body), 120)])
				if resp.StatusCode >= 300 {
					checkErrorBody(t, resp.StatusCode, resp.Header.Get("Content-Type"), body, "")
				}
			}
			alive(t, n)
		})
	}
	if r := n.do("GET", "/health", nil); r.Status != 200 {
		t.Fatalf("/health: %d", r.Status)
	}
}

// slowloris trickles a request byte by byte and keeps idle connections open
// for longer than the server's read timeout: the server must drop them, and
// serve other clients meanwhile. Bounded to 15 s.
func slowloris(t *testing.T, n *node) {
	const bound = 15 * time.Second
	deadline := time.Now().Add(bound)
	type outcome struct {
		name    string
		dropped time.Duration // 0: still open at the bound
		answer  string
	}
	results := make(chan outcome, 64)
	trickle := func(name, head, drip string) {
		began := time.Now()
		conn, err := net.DialTimeout("tcp", n.Addr, 2*time.Second)
		if err != nil {
			results <- outcome{name: name, answer: "dial: " + err.Error()}
			return
		}
		defer conn.Close()
		if head != "" {
			if _, err := conn.Write([]byte(head)); err != nil {
				results <- outcome{name: name, dropped: time.Since(began), answer: err.Error()}
				return
			}
		}
		buf := make([]byte, 512)
		for i := 0; time.Now().Before(deadline) && i < 1000; i++ {
			if drip != "" {
				if _, err := conn.Write([]byte{drip[i%len(drip)]}); err != nil {
					results <- outcome{name: name, dropped: time.Since(began), answer: "write: " + err.Error()}
					return
				}
			}
			_ = conn.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
			k, err := conn.Read(buf)
			if k > 0 || (err != nil && !isTimeout(err)) {
				results <- outcome{name: name, dropped: time.Since(began), answer: strings.SplitN(string(buf[:k]), "\r\n", 2)[0] + errText(err)}
				return
			}
		}
		results <- outcome{name: name}
	}
	var wg sync.WaitGroup
	spawn := func(name, head, drip string) {
		wg.Add(1)
		go func() { defer wg.Done(); trickle(name, head, drip) }()
	}
	spawn("headers byte by byte", "", "POST /token/validate HTTP/1.1\r\nHost: x\r\n"+strings.Repeat("X-Slow: aaaaaaaaaa\r\n", 100))
	spawn("body byte by byte", "POST /token/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n", `{"token":"`+strings.Repeat("a", 1000))
	for i := 0; i < 20; i++ {
		spawn(fmt.Sprintf("idle %d", i), "", "")
	}
	// Other clients are served while the slow ones hang on.
	c := newAPIClient(n.URL, 5*time.Second)
	defer c.close()
	served, failed := 0, 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
loop:
	for i := 0; i < 1000; i++ {
		select {
		case <-done:
			break loop
		case <-time.After(200 * time.Millisecond):
		}
		if code, _, err := c.call("GET", "/health", nil); err == nil && code == 200 {
			served++
		} else {
			failed++
			t.Errorf("/health while slow clients trickle: %d %v", code, err)
		}
		if time.Now().After(deadline.Add(5 * time.Second)) {
			break
		}
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.dropped == 0 {
			t.Errorf("%s: still open after %v; the server must drop slow clients (read timeout)", r.name, bound)
			continue
		}
		// Dropping without an answer is fine; an answer is a timeout.
		if strings.HasPrefix(r.answer, "HTTP/") && !strings.Contains(r.answer, " 408 ") {
			t.Errorf("%s: answered %q when its read timeout passed; want 408 Request Timeout", r.name, r.answer)
		}
		if strings.HasPrefix(r.name, "idle") && r.name != "idle 0" {
			continue
		}
		t.Logf("%s: dropped after %v (%s)", r.name, r.dropped.Round(100*time.Millisecond), r.answer)
	}
	t.Logf("/health answered %d times while slow clients trickled (%d failures)", served, failed)
	if served == 0 {
		t.Error("no other client was served")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return " / " + err.Error()
}

// manyConnections opens 300 idle connections and runs 64 clients (half on
// fresh connections per request) validating concurrently: every answer is
// 200 and correct.
func manyConnections(t *testing.T, n *node, tok string) {
	var idle []net.Conn
	for i := 0; i < 300; i++ {
		c, err := net.DialTimeout("tcp", n.Addr, 2*time.Second)
		if err != nil {
			t.Fatalf("idle connection %d: %v", i, err)
		}
		idle = append(idle, c)
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	var ok, bad atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	deadline := time.Now().Add(20 * time.Second)
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := newAPIClient(n.URL, 10*time.Second)
			if w%2 == 1 {
				c.hc.Transport.(*http.Transport).DisableKeepAlives = true
			}
			defer c.close()
			body := mustJSON(map[string]any{"token": tok})
			for i := 0; i < 25 && time.Now().Before(deadline); i++ {
				code, b, err := c.call("POST", "/token/validate", body)
				if err != nil || code != 200 || !strings.Contains(string(b), `"valid":true`) {
					bad.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s %v", code, b, err))
					continue
				}
				ok.Add(1)
			}
		}(w)
	}
	wg.Wait()
	if bad.Load() > 0 {
		t.Errorf("%d of %d concurrent validations failed; first: %v", bad.Load(), bad.Load()+ok.Load(), firstErr.Load())
	}
	t.Logf("%d concurrent validations over 64 clients with 300 idle connections open", ok.Load())
}

// TestHostileProductionAdminEndpoints: outside --dev, admin endpoints answer
// 401 to hostile unauthenticated input before parsing it.
func TestHostileProductionAdminEndpoints(t *testing.T) {
	key := "hostile-admin-key-0123456789"
	env := []string{"JWT_SECRET_KEY=" + strings.Repeat("s", 48), "ADMIN_API_KEYS=" + key}
	n := startNode(t, "", env, "--no-dev")
	c := newAPIClient(n.URL, 10*time.Second)
	defer c.close()
	deep := strings.Repeat("[", 100_000)
	bodies := map[string]string{
		"malformed": `{"a":`, "100k [": deep, "wrong types": `{"subject":5,"type":[],"value":{}}`, "null": `{"subject":null}`,
		"invalid utf-8": "{\"subject\":\"\xff\"}", "NUL": "\x00", "empty": "", "1 MB": `{"subject":"` + strings.Repeat("a", 1<<20-20) + `"}`,
	}
	auths := map[string]string{
		"none": "", "empty bearer": "Bearer ", "wrong key": "Bearer wrong-key-0123456789abc", "basic": "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+key)),
		"key without scheme": key, "key prefix": "Bearer " + key[:len(key)-1],
		"double space": "Bearer  " + key, "bearer twice": "Bearer Bearer " + key, "1 KB key": "Bearer " + strings.Repeat("k", 1024),
	}
	admin := [][2]string{{"POST", "/token"}, {"POST", "/revoke"}, {"POST", "/token/refresh/create"}, {"POST", "/oauth2/revoke"},
		{"POST", "/oauth2/introspect"}, {"GET", "/revocations"}, {"POST", "/admin/keys/rotate"}, {"GET", "/token/inspect"}}
	kidBefore := headerKid(t, mustIssue(t, c, key))
	for _, ep := range admin {
		for an, auth := range auths {
			for bn, body := range bodies {
				t.Run(ep[1]+" "+an+" "+bn, func(t *testing.T) {
					var hdrs []string
					if auth != "" {
						hdrs = []string{"Authorization", auth}
					}
					ctype := "application/json"
					if strings.HasPrefix(ep[1], "/oauth2/") {
						ctype = "application/x-www-form-urlencoded"
					}
					var b any = body
					path := ep[1]
					if ep[0] == "GET" {
						b, path = nil, path+"?after=-1&limit="+url.QueryEscape(body[:min(len(body), 50)])
					}
					code, rb, h, err := c.callFull(ep[0], path, b, append(hdrs, "Content-Type", ctype)...)
					if err != nil {
						t.Fatal(err)
					}
					if code != 401 || h.Get("WWW-Authenticate") == "" {
						t.Fatalf("status %d (WWW-Authenticate %q), want 401: %s", code, h.Get("WWW-Authenticate"), rb[:min(len(rb), 200)])
					}
					checkErrorBody(t, code, h.Get("Content-Type"), rb, "admin API key")
				})
			}
		}
	}
	// With the key, the same hostile bodies are parsed and refused.
	c.auth = key
	for bn, body := range bodies {
		t.Run("authorized /revoke "+bn, func(t *testing.T) {
			code, rb, h, err := c.callFull("POST", "/revoke", body, "Content-Type", "application/json")
			if err != nil {
				t.Fatal(err)
			}
			if code != 400 && code != 422 {
				t.Fatalf("status %d, want 400 or 422: %s", code, rb[:min(len(rb), 200)])
			}
			checkErrorBody(t, code, h.Get("Content-Type"), rb, "")
		})
	}
	alive(t, n)
	code, rb, err := c.call("GET", "/revocations?after=0", nil)
	if err != nil || code != 200 || len(revocationEvents(t, rb)) != 0 {
		t.Errorf("audit log after hostile admin requests: %d %s %v", code, rb, err)
	}
	if kid := headerKid(t, mustIssue(t, c, key)); kid != kidBefore {
		t.Errorf("an unauthenticated request rotated the signing key: %s -> %s", kidBefore, kid)
	}
}

func mustIssue(t *testing.T, c *apiClient, key string) string {
	t.Helper()
	code, rb, _, err := c.callFull("POST", "/token", `{"subject":"prod-hostile"}`, "Authorization", "Bearer "+key, "Content-Type", "application/json")
	if err != nil || code != 200 {
		t.Fatalf("issue with key: %d %s %v", code, rb, err)
	}
	var m map[string]any
	_ = json.Unmarshal(rb, &m)
	return m["access_token"].(string)
}

// TestHostileCaseVariantKeysAreUnknownFields: the seed's pydantic models
// match field names exactly, so "Token" or "Check_Revocation" are unknown
// fields and ignored. encoding/json matches names case-insensitively: a
// client (or an attacker behind a proxy that checks "check_revocation")
// could switch the revocation check off with "Check_Revocation": false.
func TestHostileCaseVariantKeysAreUnknownFields(t *testing.T) {
	n := startNode(t, "", nil)
	tok, jti := n.issue("case-victim")
	n.revoke("revoke_jti", jti)
	c := newAPIClient(n.URL, 10*time.Second)
	defer c.close()
	tests := []struct {
		name, path, body string
		status           int
		check            func(m map[string]any) bool
	}{
		{"Check_Revocation false is ignored", "/token/validate", mustJSON(map[string]any{"token": tok, "Check_Revocation": false}), 200,
			func(m map[string]any) bool { return m["revoked"] == true && m["valid"] == false }},
		{"CHECK_REVOCATION after check_revocation", "/token/validate", `{"token":"` + tok + `","check_revocation":true,"CHECK_REVOCATION":false}`, 200,
			func(m map[string]any) bool { return m["revoked"] == true }},
		{"Token is not token", "/token/validate", `{"Token":"x"}`, 422, nil},
		{"Subject is not subject", "/token", `{"Subject":"case-admin"}`, 422, nil},
		{"VALUE is not value", "/revoke", `{"type":"revoke_sub","VALUE":"case-victim-2"}`, 422, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, b, err := c.call("POST", tc.path, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			if code != tc.status || (tc.check != nil && !tc.check(m)) {
				t.Errorf("status %d %s; want %d with the differently-cased key ignored, as the seed's pydantic models do", code, b, tc.status)
			}
		})
	}
}

// TestHostileIssuedTokensAlwaysValidate: whatever /token and
// /token/refresh/create accept must produce tokens the node itself can
// verify (and a client can revoke). Large additional_claims must be refused
// with 422, not turned into a token /token/validate calls "too large".
func TestHostileIssuedTokensAlwaysValidate(t *testing.T) {
	n := startNode(t, "", nil)
	claims := map[string]any{"blob": strings.Repeat("x", 20_000)}
	r := n.do("POST", "/token", map[string]any{"subject": "big-claims", "additional_claims": claims})
	switch r.Status {
	case 422:
		checkErrorBody(t, r.Status, r.Header.Get("Content-Type"), r.Body, "additional_claims")
	case 200:
		tok := r.JSON(t)["access_token"].(string)
		if v := n.validate(tok); v["valid"] != true {
			t.Errorf("/token issued a %d-byte token that /token/validate refuses: %v", len(tok), v)
		}
	default:
		t.Fatalf("/token with 20 KB of claims: %d %s", r.Status, r.Body)
	}
	r = n.do("POST", "/token/refresh/create", map[string]any{"subject": "big-claims", "client_binding": "d", "additional_claims": claims})
	if r.Status == 200 {
		rt := r.JSON(t)["refresh_token"].(string)
		if rr := n.do("POST", "/token/refresh/revoke", `"`+rt+`"`); rr.Status != 200 {
			t.Errorf("a client cannot log out a refresh token the node issued (%d bytes): %d %s", len(rt), rr.Status, rr.Body)
		}
	} else if r.Status != 422 {
		t.Fatalf("/token/refresh/create with 20 KB of claims: %d %s", r.Status, r.Body)
	}
}

// TestHostileRateLimitKeyedOnUnverifiedAuthorization: the per-client rate
// limit must not be escaped by sending a different (wrong) Authorization
// header with every request. The node is configured as the README tells a
// user to (RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST); a limiter that limits
// nothing fails the test.
func TestHostileRateLimitKeyedOnUnverifiedAuthorization(t *testing.T) {
	n := startNode(t, "", []string{"RATE_LIMIT_PER_SECOND=1", "RATE_LIMIT_BURST=3"})
	c := newAPIClient(n.URL, 10*time.Second)
	defer c.close()
	body := `{"refresh_token":"x","client_binding":"d"}`
	// Without an Authorization header one client is limited: of 10
	// back-to-back requests at most the burst (3, plus one refilled token
	// per second elapsed) pass; every 429 names a Retry-After in seconds and
	// carries {"detail"}.
	start := time.Now()
	limited := 0
	for i := 0; i < 10; i++ {
		code, b, h, err := c.callFull("POST", "/token/refresh", body)
		if err != nil {
			t.Fatal(err)
		}
		if code != 429 {
			continue
		}
		limited++
		if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("429 with Retry-After %q, want a whole number of seconds >= 1", h.Get("Retry-After"))
		}
		var e struct {
			Detail string `json:"detail"`
		}
		if json.Unmarshal(b, &e) != nil || !strings.Contains(strings.ToLower(e.Detail), "rate limit") {
			t.Errorf("429 body %s, want {\"detail\": \"Rate limit exceeded...\"}", b)
		}
	}
	if maxPassed := 3 + int(time.Since(start)/time.Second); 10-limited > maxPassed {
		t.Fatalf("RATE_LIMIT_PER_SECOND=1 RATE_LIMIT_BURST=3: %d of 10 back-to-back requests passed, want at most %d", 10-limited, maxPassed)
	}
	// The same client inventing a new Authorization header per request.
	limited = 0
	for i := 0; i < 20; i++ {
		code, _, _ := c.call("POST", "/token/refresh", body, "Authorization", "Bearer random-"+strconv.Itoa(i)+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
		if code == 429 {
			limited++
		}
	}
	if limited == 0 {
		t.Errorf("20 requests from one client with 20 made-up Authorization headers: none rate limited (burst 3)")
	}
}
