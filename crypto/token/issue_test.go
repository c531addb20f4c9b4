package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func decodeSeg(t *testing.T, seg string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

func TestIssueClaimsAndHeader(t *testing.T) {
	f := newFixture(t, VerifierOptions{})
	for _, typ := range []string{"", TypeAccess, TypeRefresh} {
		tok, c, err := f.iss.Issue(Spec{Subject: "alice", JTI: uuid.NewString(), TTL: 90 * time.Second, Type: typ,
			Extra: map[string]any{"scope": "read", "n": 3, "roles": []string{"a"}}})
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("segments: %s", tok)
		}
		h, p := decodeSeg(t, parts[0]), decodeSeg(t, parts[1])
		if h["alg"] != "HS256" || h["typ"] != "JWT" || h["kid"] != "kid-HS256" || len(h) != 3 {
			t.Fatalf("header %v", h)
		}
		if p["sub"] != "alice" || p["iss"] != "revocd" || p["scope"] != "read" ||
			p["iat"] != json.Number("1772366400") || p["exp"] != json.Number("1772366490") {
			t.Fatalf("payload %v", p)
		}
		if _, err := uuid.Parse(p["jti"].(string)); err != nil || p["jti"] != c.ID {
			t.Fatalf("jti %v: %v", p["jti"], err)
		}
		typAny, hasTyp := p["typ"]
		typClaim, _ := typAny.(string)
		if (typ == TypeRefresh) != hasTyp || (hasTyp && typClaim != "refresh") || c.Type != typClaim {
			t.Fatalf("type %q: typ claim %v, Claims.Type %q", typ, typClaim, c.Type)
		}
		if c.Subject != "alice" || c.KeyID != "kid-HS256" || c.Alg != AlgHS256 ||
			!c.IssuedAt.Equal(t0) || !c.ExpiresAt.Equal(t0.Add(90*time.Second)) {
			t.Fatalf("claims %+v", c)
		}
	}
	_, c, err := f.iss.Issue(Spec{Subject: "bob", TTL: time.Minute, JTI: "given-jti"})
	if err != nil || c.ID != "given-jti" {
		t.Fatalf("explicit JTI: %v %v", c.ID, err)
	}
}

func TestIssueErrors(t *testing.T) {
	f := newFixture(t, VerifierOptions{})
	// Every letter case: encoding/json and golang-jwt match names with
	// Unicode case folding, so "Sub" (or "ſub") would override "sub".
	for _, name := range []string{
		"sub", "iat", "exp", "nbf", "jti", "iss", "aud", "typ", "cnf", "active", "token_type",
		"Sub", "SUB", "sUb", "Jti", "JTI", "EXP", "Exp", "Iat", "Iss", "Nbf", "Aud", "Typ", "Cnf",
		"Active", "Token_Type", "ſub", "Iſſ",
	} {
		_, _, err := f.iss.Issue(Spec{Subject: "a", JTI: "j", TTL: time.Minute, Extra: map[string]any{"ok": 1, name: "x"}})
		if !errors.Is(err, ErrReservedClaim) || !strings.Contains(err.Error(), `"`+name+`"`) {
			t.Errorf("Extra[%q]: %v", name, err)
		}
	}
	for name, s := range map[string]Spec{
		"no subject":    {JTI: "j", TTL: time.Minute},
		"no jti":        {Subject: "a", TTL: time.Minute},
		"short ttl":     {Subject: "a", JTI: "j", TTL: time.Millisecond},
		"bad type":      {Subject: "a", JTI: "j", TTL: time.Minute, Type: "id"},
		"bad utf8":      {Subject: "a\xff", JTI: "j", TTL: time.Minute},
		"bad utf8 jti":  {Subject: "a", JTI: "j\xff", TTL: time.Minute},
		"bad utf8 name": {Subject: "a", JTI: "j", TTL: time.Minute, Extra: map[string]any{"n\xff": 1}},
		"unmarshaling":  {Subject: "a", JTI: "j", TTL: time.Minute, Extra: map[string]any{"f": func() {}}},
	} {
		if _, _, err := f.iss.Issue(s); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	var nilIss *Issuer
	if _, _, err := nilIss.Issue(Spec{Subject: "a", JTI: "j", TTL: time.Minute}); err == nil {
		t.Error("nil issuer")
	}
}

func TestIssueEscapesStrings(t *testing.T) {
	f := newFixture(t, VerifierOptions{})
	sub := "a\"b\\c\n\t\x01\u2028é😀</script>"
	tok, _, err := f.iss.Issue(Spec{Subject: sub, JTI: "j", TTL: time.Minute, Extra: map[string]any{"we\"ird": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	p := decodeSeg(t, strings.Split(tok, ".")[1])
	if p["sub"] != sub || p["we\"ird"] != "v" {
		t.Fatalf("payload %v", p)
	}
	var tk Token
	if err := f.ver.Verify([]byte(tok), &tk); err != nil || tk.Subject() != sub {
		t.Fatalf("verify: %v %q", err, tk.Sub)
	}
}
