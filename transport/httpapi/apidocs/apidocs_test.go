package apidocs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// obj is a decoded JSON object.
type obj = map[string]any

// loadDoc decodes the embedded document, failing the test if it is not JSON.
func loadDoc(t *testing.T) obj {
	t.Helper()
	var doc obj
	dec := json.NewDecoder(bytes.NewReader(OpenAPI()))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	if dec.More() {
		t.Fatal("openapi.json has trailing data")
	}
	return doc
}

// resolvePointer resolves a local JSON pointer ("#/a/b") in doc.
func resolvePointer(doc obj, ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("non-local $ref %q", ref)
	}
	var cur any = doc
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case obj:
			v, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("$ref %q: no member %q", ref, tok)
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("$ref %q: bad index %q", ref, tok)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("$ref %q: cannot descend into %T", ref, cur)
		}
	}
	return cur, nil
}

// deref follows $ref chains until it reaches an object without one.
func deref(t *testing.T, doc obj, v any) obj {
	t.Helper()
	for range 16 {
		o, ok := v.(obj)
		if !ok {
			t.Fatalf("expected an object, got %T", v)
		}
		ref, ok := o["$ref"].(string)
		if !ok {
			return o
		}
		next, err := resolvePointer(doc, ref)
		if err != nil {
			t.Fatal(err)
		}
		v = next
	}
	t.Fatal("$ref chain too long")
	return nil
}

// operation returns the operation object for method and path.
func operation(t *testing.T, doc obj, method, path string) obj {
	t.Helper()
	item, ok := doc["paths"].(obj)[path].(obj)
	if !ok {
		t.Fatalf("path %s not documented", path)
	}
	op, ok := item[strings.ToLower(method)].(obj)
	if !ok {
		t.Fatalf("%s %s not documented", method, path)
	}
	return op
}

// forEachOperation calls f for every operation of the document.
func forEachOperation(doc obj, f func(method, path string, op obj)) {
	ps := doc["paths"].(obj)
	keys := make([]string, 0, len(ps))
	for p := range ps {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	for _, p := range keys {
		for _, m := range httpMethods {
			if op, ok := ps[p].(obj)[m].(obj); ok {
				f(strings.ToUpper(m), p, op)
			}
		}
	}
}

func TestDocumentHeader(t *testing.T) {
	doc := loadDoc(t)
	v, _ := doc["openapi"].(string)
	if !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(v) {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	info, _ := doc["info"].(obj)
	if info["title"] != "revocd" {
		t.Errorf("info.title = %v, want revocd", info["title"])
	}
	if s, _ := info["version"].(string); s == "" {
		t.Error("info.version missing")
	}
	bearer := deref(t, doc, doc["components"].(obj)["securitySchemes"].(obj)["bearerAuth"])
	if bearer["type"] != "http" || bearer["scheme"] != "bearer" {
		t.Errorf("bearerAuth = %v, want an http bearer scheme", bearer)
	}
}

func TestEveryOperationHasIDAndResponses(t *testing.T) {
	doc := loadDoc(t)
	seen := map[string]string{}
	forEachOperation(doc, func(method, path string, op obj) {
		name := method + " " + path
		id, _ := op["operationId"].(string)
		if id == "" {
			t.Errorf("%s: no operationId", name)
		} else if prev, dup := seen[id]; dup {
			t.Errorf("%s: operationId %q already used by %s", name, id, prev)
		}
		seen[id] = name
		if s, _ := op["summary"].(string); s == "" {
			t.Errorf("%s: no summary", name)
		}
		resp, _ := op["responses"].(obj)
		if len(resp) == 0 {
			t.Errorf("%s: no responses", name)
		}
		has2xx := false
		for code, r := range resp {
			if !regexp.MustCompile(`^[1-5](\d\d|XX)$`).MatchString(code) {
				t.Errorf("%s: bad status key %q", name, code)
			}
			if code[0] == '2' {
				has2xx = true
			}
			if d, _ := deref(t, doc, r)["description"].(string); d == "" {
				t.Errorf("%s %s: response has no description", name, code)
			}
		}
		if !has2xx {
			t.Errorf("%s: no 2xx response", name)
		}
	})
}

func TestEveryRefResolves(t *testing.T) {
	doc := loadDoc(t)
	n := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch c := v.(type) {
		case obj:
			if ref, ok := c["$ref"]; ok {
				n++
				s, _ := ref.(string)
				if _, err := resolvePointer(doc, s); err != nil {
					t.Errorf("%s: %v", path, err)
				}
			}
			for k, e := range c {
				walk(path+"/"+k, e)
			}
		case []any:
			for i, e := range c {
				walk(path+"/"+strconv.Itoa(i), e)
			}
		}
	}
	walk("#", doc)
	if n < 50 {
		t.Errorf("only %d $refs found; walker broken?", n)
	}
}

// TestPaths checks Paths against the document it is derived from: every
// operation once, sorted. Which paths the server routes, and with which
// auth, is checked against the route table itself by
// transport/httpapi's TestRouteAuthAgreesWithOpenAPI (no hand-typed list
// here that could drift from it).
func TestPaths(t *testing.T) {
	doc := loadDoc(t)
	var want []string
	forEachOperation(doc, func(method, path string, _ obj) { want = append(want, method+" "+path) })
	slices.Sort(want)
	got := Paths()
	if len(got) == 0 || !slices.Equal(got, want) {
		t.Errorf("Paths() =\n%s\nwant the document's operations\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("Paths() lists an operation twice: %v", got)
	}
	got[0] = "mutated"
	if Paths()[0] == "mutated" {
		t.Error("Paths() returns a shared slice")
	}
}

// TestAdminSecurity checks the shape of the admin requirement: per
// operation, never document-wide, and every operation that needs the admin
// key documents its 401. Which operations those are comes from the route
// table (transport/httpapi's TestRouteAuthAgreesWithOpenAPI).
func TestAdminSecurity(t *testing.T) {
	doc := loadDoc(t)
	admin := 0
	forEachOperation(doc, func(method, path string, op obj) {
		name := method + " " + path
		sec, _ := op["security"].([]any)
		bearer := false
		for _, s := range sec {
			if _, ok := s.(obj)["bearerAuth"]; ok {
				bearer = true
			}
		}
		if !bearer {
			return
		}
		admin++
		if _, ok := op["responses"].(obj)["401"]; !ok {
			t.Errorf("%s: admin endpoint without a 401 response", name)
		}
	})
	if admin == 0 {
		t.Error("no operation requires bearerAuth")
	}
	if _, ok := doc["security"]; ok {
		t.Error("top-level security would make every endpoint admin")
	}
}

func TestErrorResponsesUseDetail(t *testing.T) {
	doc := loadDoc(t)
	forEachOperation(doc, func(method, path string, op obj) {
		for code, r := range op["responses"].(obj) {
			if code < "400" || (path == "/ready" && code == "503") {
				continue
			}
			name := method + " " + path + " " + code
			content, _ := deref(t, doc, r)["content"].(obj)
			mt, ok := content["application/json"].(obj)
			if !ok {
				t.Errorf("%s: no application/json error body", name)
				continue
			}
			s := deref(t, doc, mt["schema"])
			if !slices.Contains(asStrings(s["required"]), "detail") || typeOf(t, doc, s["properties"].(obj)["detail"]) != "string" {
				t.Errorf("%s: error body is not {\"detail\": string}", name)
			}
		}
	})
}

// asStrings converts a JSON array of strings.
func asStrings(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, e := range a {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// typeOf renders a (dereferenced) schema's type as "string", "object|null", ...
func typeOf(t *testing.T, doc obj, v any) string {
	t.Helper()
	s := deref(t, doc, v)
	switch ty := s["type"].(type) {
	case string:
		return ty
	case []any:
		return strings.Join(asStrings(ty), "|")
	}
	if _, ok := s["oneOf"]; ok {
		return "oneOf"
	}
	return ""
}

// descend follows a dotted path of property names through a schema; a
// trailing "[]" on a step steps into the array's items.
func descend(t *testing.T, doc obj, s obj, path string) obj {
	t.Helper()
	if path == "" {
		return s
	}
	for _, step := range strings.Split(path, ".") {
		items := strings.HasSuffix(step, "[]")
		step = strings.TrimSuffix(step, "[]")
		props, _ := s["properties"].(obj)
		p, ok := props[step]
		if !ok {
			t.Fatalf("no property %q", step)
		}
		s = deref(t, doc, p)
		if items {
			s = deref(t, doc, s["items"])
		}
	}
	return s
}

// field is an expected schema property: its type and whether it is required.
type field struct {
	name, typ string
	optional  bool
}

// req and opt build fields.
func req(name, typ string) field { return field{name, typ, false} }
func opt(name, typ string) field { return field{name, typ, true} }

// checkFields asserts s has exactly the listed properties (names, types,
// required-ness); extra documented properties are errors too.
func checkFields(t *testing.T, doc obj, name string, s obj, fields []field) {
	t.Helper()
	props, _ := s["properties"].(obj)
	required := asStrings(s["required"])
	for _, f := range fields {
		p, ok := props[f.name]
		if !ok {
			t.Errorf("%s: missing field %q", name, f.name)
			continue
		}
		if got := typeOf(t, doc, p); got != f.typ {
			t.Errorf("%s: field %q has type %q, want %q", name, f.name, got, f.typ)
		}
		if isReq := slices.Contains(required, f.name); isReq == f.optional {
			t.Errorf("%s: field %q required = %v, want %v", name, f.name, isReq, !f.optional)
		}
	}
	for p := range props {
		if !slices.ContainsFunc(fields, func(f field) bool { return f.name == p }) {
			t.Errorf("%s: undocumented-in-test field %q (add it to the table)", name, p)
		}
	}
	for _, r := range required {
		if _, ok := props[r]; !ok {
			t.Errorf("%s: required field %q has no property", name, r)
		}
	}
}

func TestResponseSchemas(t *testing.T) {
	doc := loadDoc(t)
	validateResult := []field{req("valid", "boolean"), req("claims", "object|null"), req("revoked", "boolean"), req("message", "string")}
	event := []field{
		req("event_id", "string"), req("type", "string"), req("value", "string"), req("ts", "integer"),
		req("expires_at", "integer"), req("reason", "string"), req("origin", "string"), req("seq", "integer"),
		req("key_id", "string"), req("alg", "string"), req("sig", "string"),
	}
	tests := []struct {
		method, path, status string
		at                   string // property path inside the response schema
		fields               []field
	}{
		{"GET", "/health", "200", "", []field{req("ok", "boolean")}},
		{"GET", "/ready", "200", "", []field{req("ready", "boolean"), req("checks", "object"), req("outbox", "object")}},
		{"GET", "/ready", "503", "", []field{req("ready", "boolean"), req("checks", "object"), req("outbox", "object")}},
		{"POST", "/token", "200", "", []field{
			req("access_token", "string"), req("token_type", "string"), req("expires_in", "integer"),
			req("jti", "string"), req("subject", "string"),
		}},
		{"POST", "/token/validate", "200", "", validateResult},
		{"POST", "/token/validate/batch", "200", "", []field{req("results", "array")}},
		{"POST", "/token/validate/batch", "200", "results[]", validateResult},
		{"GET", "/token/inspect", "200", "", []field{
			req("claims", "object|null"), req("revoked", "boolean"), req("revocation_reason", "string|null"), req("note", "string"),
			opt("error", "string"),
		}},
		{"POST", "/revoke", "200", "", []field{req("event_id", "string"), req("published", "boolean")}},
		{"POST", "/token/refresh/create", "200", "", []field{
			req("refresh_token", "string"), req("access_token", "string"), req("token_type", "string"),
			req("expires_in", "integer"), req("refresh_expires_in", "integer"), req("refresh_jti", "string"),
			req("access_jti", "string"), req("subject", "string"), req("kyber_public_key", "string"),
		}},
		{"POST", "/token/refresh", "200", "", []field{
			req("access_token", "string"), req("refresh_token", "string|null"), req("token_type", "string"),
			req("expires_in", "integer"), req("server_public_key", "string|null"),
			req("encrypted_session_key", "string|null"), req("access_jti", "string"),
		}},
		{"POST", "/token/refresh/revoke", "200", "", []field{req("event_id", "string"), req("published", "boolean")}},
		{"POST", "/oauth2/introspect", "200", "", []field{
			req("active", "boolean"), opt("scope", "string"), opt("sub", "string"), opt("exp", "integer"),
			opt("iat", "integer"), opt("jti", "string"), opt("iss", "string"), opt("token_type", "string"),
		}},
		{"GET", "/revocations", "200", "", []field{req("events", "array"), req("next", "integer")}},
		{"GET", "/revocations", "200", "events[]", event},
		{"GET", "/events/keys", "200", "", []field{req("keys", "array")}},
		{"GET", "/events/keys", "200", "keys[]", []field{req("key_id", "string"), req("alg", "string"), req("public_key", "string")}},
		{"GET", "/.well-known/jwks.json", "200", "", []field{req("keys", "array")}},
		{"POST", "/admin/keys/rotate", "200", "", []field{req("rotated", "boolean"), req("kid", "string")}},
	}
	for _, tc := range tests {
		name := tc.method + " " + tc.path + " " + tc.status + " " + tc.at
		t.Run(name, func(t *testing.T) {
			op := operation(t, doc, tc.method, tc.path)
			r, ok := op["responses"].(obj)[tc.status]
			if !ok {
				t.Fatalf("no %s response", tc.status)
			}
			mt, ok := deref(t, doc, r)["content"].(obj)["application/json"].(obj)
			if !ok {
				t.Fatal("no application/json response body")
			}
			s := descend(t, doc, deref(t, doc, mt["schema"]), tc.at)
			checkFields(t, doc, name, s, tc.fields)
		})
	}
	// The 200 of RFC 7009 revocation has an empty body.
	r := deref(t, doc, operation(t, doc, "POST", "/oauth2/revoke")["responses"].(obj)["200"])
	if _, ok := r["content"]; ok {
		t.Error("POST /oauth2/revoke 200 must have no body")
	}
	// The health check is the seed's {"ok": true}.
	health := deref(t, doc, doc["components"].(obj)["schemas"].(obj)["HealthResponse"])
	if health["properties"].(obj)["ok"].(obj)["const"] != true {
		t.Error("HealthResponse.ok is not const true")
	}
	// Map values of /ready.
	ready := deref(t, doc, doc["components"].(obj)["schemas"].(obj)["ReadyResponse"])
	checks := deref(t, doc, deref(t, doc, ready["properties"].(obj)["checks"])["additionalProperties"])
	checkFields(t, doc, "ReadyResponse.checks{}", checks, []field{req("ok", "boolean"), req("detail", "string")})
	outbox := deref(t, doc, deref(t, doc, ready["properties"].(obj)["outbox"])["additionalProperties"])
	checkFields(t, doc, "ReadyResponse.outbox{}", outbox, []field{req("backlog", "integer")})
}

func TestRequestSchemas(t *testing.T) {
	doc := loadDoc(t)
	tests := []struct {
		method, path, mediaType string
		fields                  []field
	}{
		{"POST", "/token", "application/json", []field{
			req("subject", "string"), opt("expires_minutes", "integer"), opt("additional_claims", "object"),
		}},
		{"POST", "/token/validate", "application/json", []field{req("token", "string"), opt("check_revocation", "boolean"), opt("dpop_proof", "string"), opt("htm", "string"), opt("htu", "string")}},
		{"POST", "/token/validate/batch", "application/json", []field{req("tokens", "array"), opt("check_revocation", "boolean"), opt("dpop_proofs", "array"), opt("htm", "string"), opt("htu", "string")}},
		{"POST", "/revoke", "application/json", []field{
			req("type", "string"), req("value", "string"), opt("ttl_seconds", "integer"), opt("reason", "string"),
		}},
		{"POST", "/token/refresh/create", "application/json", []field{
			req("subject", "string"), req("client_binding", "string"), opt("additional_claims", "object"),
		}},
		{"POST", "/token/refresh", "application/json", []field{
			req("refresh_token", "string"), req("client_binding", "string"), opt("client_public_key", "string"),
		}},
		{"POST", "/oauth2/revoke", "application/x-www-form-urlencoded", []field{req("token", "string"), opt("token_type_hint", "string"), opt("client_id", "string"), opt("client_secret", "string")}},
		{"POST", "/oauth2/introspect", "application/x-www-form-urlencoded", []field{req("token", "string"), opt("token_type_hint", "string"), opt("client_id", "string"), opt("client_secret", "string")}},
	}
	for _, tc := range tests {
		name := tc.method + " " + tc.path
		t.Run(name, func(t *testing.T) {
			rb := deref(t, doc, operation(t, doc, tc.method, tc.path)["requestBody"])
			if rb["required"] != true {
				t.Error("request body not required")
			}
			mt, ok := rb["content"].(obj)[tc.mediaType].(obj)
			if !ok {
				t.Fatalf("no %s request body", tc.mediaType)
			}
			checkFields(t, doc, name, deref(t, doc, mt["schema"]), tc.fields)
		})
	}

	schemas := doc["components"].(obj)["schemas"].(obj)
	// POST /revoke's type is the three seed values.
	rt := deref(t, doc, schemas["RevocationType"])
	if got := asStrings(rt["enum"]); !slices.Equal(got, []string{"revoke_jti", "revoke_sub", "revoke_kid"}) {
		t.Errorf("RevocationType enum = %v", got)
	}
	// subject is 1..256 characters.
	subj := deref(t, doc, schemas["TokenRequest"])["properties"].(obj)["subject"].(obj)
	if subj["minLength"] != json.Number("1") || subj["maxLength"] != json.Number("256") {
		t.Errorf("TokenRequest.subject bounds = %v..%v, want 1..256", subj["minLength"], subj["maxLength"])
	}
	// additional_claims refuses every registered claim.
	ac := deref(t, doc, schemas["AdditionalClaims"])
	banned := asStrings(ac["propertyNames"].(obj)["not"].(obj)["enum"])
	for _, c := range []string{"sub", "iat", "exp", "nbf", "jti", "iss", "aud", "typ"} {
		if !slices.Contains(banned, c) {
			t.Errorf("AdditionalClaims does not refuse %q", c)
		}
	}
	// check_revocation defaults to true.
	cr := deref(t, doc, schemas["ValidateRequest"])["properties"].(obj)["check_revocation"].(obj)
	if cr["default"] != true {
		t.Error("ValidateRequest.check_revocation default is not true")
	}
	// /token/refresh/revoke takes a bare string or {"refresh_token"}.
	rr := deref(t, doc, operation(t, doc, "POST", "/token/refresh/revoke")["requestBody"])
	one := deref(t, doc, rr["content"].(obj)["application/json"].(obj)["schema"])["oneOf"].([]any)
	if len(one) != 2 || typeOf(t, doc, one[0]) != "string" || typeOf(t, doc, one[1]) != "object" {
		t.Fatalf("RefreshRevokeRequest oneOf = %v", one)
	}
	checkFields(t, doc, "RefreshRevokeRequest object form", deref(t, doc, one[1]), []field{req("refresh_token", "string")})
	// Query parameters.
	params := map[string][]string{"/token/inspect": {"token"}, "/revocations": {"after", "limit"}}
	for path, want := range params {
		var got []string
		for _, p := range operation(t, doc, "GET", path)["parameters"].([]any) {
			p := deref(t, doc, p)
			if p["in"] == "query" {
				got = append(got, p["name"].(string))
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("GET %s query parameters = %v, want %v", path, got, want)
		}
	}
}

func TestRefreshDescribesForwardSecrecy(t *testing.T) {
	doc := loadDoc(t)
	d, _ := operation(t, doc, "POST", "/token/refresh")["description"].(string)
	for _, s := range []string{
		"HKDF-SHA256(ikm = shared secret, salt = empty, info = \"revocd/refresh/v1\" || access_jti",
		"base64(nonce[12] || ChaCha20-Poly1305(key).Seal(nonce, session_key[32], aad = access_jti))",
		"32 bytes", "1184 bytes", "1216 bytes", "X25519", "ML-KEM-768", "X-Wing",
		"ephemeral X25519 public key", "KEM ciphertext", "1088 bytes", "1120 bytes",
	} {
		if !strings.Contains(d, s) {
			t.Errorf("POST /token/refresh description lacks %q", s)
		}
	}
}

// TestExamplesMatchSchemas checks every request and response example
// against its schema with a small validator for the keywords the document
// uses; a schema keyword it does not know fails the test.
func TestExamplesMatchSchemas(t *testing.T) {
	doc := loadDoc(t)
	n := 0
	forEachOperation(doc, func(method, path string, op obj) {
		var bodies []struct {
			where string
			mt    obj
		}
		if rb, ok := op["requestBody"]; ok {
			for ct, mt := range deref(t, doc, rb)["content"].(obj) {
				bodies = append(bodies, struct {
					where string
					mt    obj
				}{"request " + ct, mt.(obj)})
			}
		}
		for code, r := range op["responses"].(obj) {
			content, _ := deref(t, doc, r)["content"].(obj)
			for ct, mt := range content {
				bodies = append(bodies, struct {
					where string
					mt    obj
				}{code + " " + ct, mt.(obj)})
			}
		}
		for _, b := range bodies {
			exs, _ := b.mt["examples"].(obj)
			for name, ex := range exs {
				n++
				v := deref(t, doc, ex)["value"]
				if err := validate(doc, b.mt["schema"], v, "$"); err != nil {
					t.Errorf("%s %s %s example %q: %v", method, path, b.where, name, err)
				}
			}
		}
	})
	if n < 25 {
		t.Errorf("only %d examples checked", n)
	}
}

// validate checks v against schema for the subset of JSON Schema 2020-12
// that openapi.json uses.
func validate(doc obj, schema, v any, at string) error {
	s, ok := schema.(obj)
	if !ok {
		return fmt.Errorf("%s: schema is %T", at, schema)
	}
	if ref, ok := s["$ref"].(string); ok {
		next, err := resolvePointer(doc, ref)
		if err != nil {
			return err
		}
		return validate(doc, next, v, at)
	}
	for k := range s {
		switch k {
		case "type", "properties", "required", "additionalProperties", "items", "enum", "const",
			"minLength", "maxLength", "minimum", "oneOf", "propertyNames", "not",
			"description", "format", "default", "contentEncoding", "examples":
		default:
			return fmt.Errorf("%s: validator does not know keyword %q", at, k)
		}
	}
	if ty, ok := s["type"]; ok {
		types := asStrings(ty)
		if s, ok := ty.(string); ok {
			types = []string{s}
		}
		if !slices.Contains(types, jsonType(v)) && !(jsonType(v) == "integer" && slices.Contains(types, "number")) {
			return fmt.Errorf("%s: %s, want %v", at, jsonType(v), types)
		}
	}
	if c, ok := s["const"]; ok && fmt.Sprint(c) != fmt.Sprint(v) {
		return fmt.Errorf("%s: %v, want const %v", at, v, c)
	}
	if e, ok := s["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return fmt.Sprint(x) == fmt.Sprint(v) }) {
		return fmt.Errorf("%s: %v not in enum %v", at, v, e)
	}
	if not, ok := s["not"]; ok && validate(doc, not, v, at) == nil {
		return fmt.Errorf("%s: %v matches a forbidden schema", at, v)
	}
	if str, ok := v.(string); ok {
		n := json.Number(strconv.Itoa(len([]rune(str))))
		if m, ok := s["minLength"].(json.Number); ok && cmpNum(n, m) < 0 {
			return fmt.Errorf("%s: shorter than %s", at, m)
		}
		if m, ok := s["maxLength"].(json.Number); ok && cmpNum(n, m) > 0 {
			return fmt.Errorf("%s: longer than %s", at, m)
		}
	}
	if num, ok := v.(json.Number); ok {
		if m, ok := s["minimum"].(json.Number); ok && cmpNum(num, m) < 0 {
			return fmt.Errorf("%s: %s below minimum %s", at, num, m)
		}
	}
	if one, ok := s["oneOf"].([]any); ok {
		matches := 0
		for _, sub := range one {
			if validate(doc, sub, v, at) == nil {
				matches++
			}
		}
		if matches != 1 {
			return fmt.Errorf("%s: matches %d of oneOf, want 1", at, matches)
		}
	}
	if arr, ok := v.([]any); ok {
		if items, ok := s["items"]; ok {
			for i, e := range arr {
				if err := validate(doc, items, e, at+"["+strconv.Itoa(i)+"]"); err != nil {
					return err
				}
			}
		}
	}
	if o, ok := v.(obj); ok {
		props, _ := s["properties"].(obj)
		for _, r := range asStrings(s["required"]) {
			if _, ok := o[r]; !ok {
				return fmt.Errorf("%s: missing required %q", at, r)
			}
		}
		for k, e := range o {
			if pn, ok := s["propertyNames"]; ok {
				if err := validate(doc, pn, k, at+" name "+k); err != nil {
					return err
				}
			}
			if ps, ok := props[k]; ok {
				if err := validate(doc, ps, e, at+"."+k); err != nil {
					return err
				}
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case nil:
			case bool:
				if !ap {
					return fmt.Errorf("%s: unexpected property %q", at, k)
				}
			default:
				if err := validate(doc, ap, e, at+"."+k); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// jsonType names v's JSON Schema type.
func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case obj:
		return "object"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// cmpNum compares two JSON numbers.
func cmpNum(a, b json.Number) int {
	x, _ := a.Float64()
	y, _ := b.Float64()
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func TestAssetIndex(t *testing.T) {
	for _, p := range []string{"", "/", "/index.html"} {
		body, ct, ok := Asset(p)
		if !ok || ct != "text/html; charset=utf-8" || !bytes.Contains(body, []byte("SwaggerUIBundle(")) {
			t.Errorf("Asset(%q) = %d bytes, %q, %v; want index.html", p, len(body), ct, ok)
		}
	}
	html, _, _ := Asset("")
	if bytes.Contains(html, []byte("http://")) || bytes.Contains(html, []byte("https://")) {
		t.Error("index.html contains an external URL")
	}
	// Every src/href/url in the page is an absolute local path that Asset
	// (or the server's /openapi.json route) serves.
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"|url:\s*"([^"]*)"`).FindAllSubmatch(html, -1)
	if len(refs) < 3 {
		t.Fatalf("found %d references in index.html, want at least 3", len(refs))
	}
	for _, m := range refs {
		u := string(m[1]) + string(m[2])
		switch {
		case !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//"):
			t.Errorf("index.html references %q: not an absolute local path", u)
		case u == "/openapi.json":
		case strings.HasPrefix(u, "/docs/"):
			if _, _, ok := Asset(strings.TrimPrefix(u, "/docs")); !ok {
				t.Errorf("index.html references %q, which Asset does not serve", u)
			}
		default:
			t.Errorf("index.html references unexpected path %q", u)
		}
	}
	for _, s := range []string{`url: "/openapi.json"`, "tryItOutEnabled: true", "persistAuthorization: true", "validatorUrl: null"} {
		if !bytes.Contains(html, []byte(s)) {
			t.Errorf("index.html lacks %s", s)
		}
	}
}

func TestAssetVendored(t *testing.T) {
	tests := []struct {
		path, contentType, marker string
		minSize                   int
	}{
		{"/swagger-ui-bundle.js", "text/javascript; charset=utf-8", "SwaggerUIBundle", 500_000},
		{"/swagger-ui.css", "text/css; charset=utf-8", ".swagger-ui", 50_000},
	}
	for _, tc := range tests {
		body, ct, ok := Asset(tc.path)
		if !ok || ct != tc.contentType || len(body) < tc.minSize || !bytes.Contains(body, []byte(tc.marker)) {
			t.Errorf("Asset(%q) = %d bytes, %q, %v", tc.path, len(body), ct, ok)
		}
	}
	for _, p := range []string{"/LICENSE", "/VERSION", "/openapi.json", "/../openapi.json", "index.html", "/swagger-ui.css.map", "/assets/index.html"} {
		if _, _, ok := Asset(p); ok {
			t.Errorf("Asset(%q) ok, want unknown", p)
		}
	}
	for p, a := range assetTable {
		if _, err := assets.ReadFile(a.file); err != nil {
			t.Errorf("asset %q: %v", p, err)
		}
	}
}

func TestVendoredProvenance(t *testing.T) {
	v, err := os.ReadFile("assets/VERSION")
	if err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(string(v), "\n"); first != swaggerUIVersion {
		t.Errorf("assets/VERSION first line = %q, want %q", first, swaggerUIVersion)
	}
	lic, err := os.ReadFile("assets/LICENSE")
	if err != nil || !bytes.Contains(lic, []byte("Apache License")) {
		t.Errorf("assets/LICENSE missing or not the Apache License (%v)", err)
	}
	src, err := os.ReadFile("doc.go")
	if err != nil || !strings.Contains(string(src), "swagger-ui-dist version "+swaggerUIVersion) {
		t.Errorf("doc.go does not record swagger-ui-dist version %s", swaggerUIVersion)
	}
}

func TestExportedNamesDocumented(t *testing.T) {
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Name.IsExported() && d.Doc == nil {
					t.Errorf("%s: %s has no doc comment", name, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					var ids []*ast.Ident
					switch sp := sp.(type) {
					case *ast.TypeSpec:
						ids = []*ast.Ident{sp.Name}
					case *ast.ValueSpec:
						ids = sp.Names
					}
					for _, id := range ids {
						if id.IsExported() && d.Doc == nil {
							t.Errorf("%s: %s has no doc comment", name, id.Name)
						}
					}
				}
			}
		}
	}
}
