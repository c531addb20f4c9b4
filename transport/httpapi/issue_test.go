package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
)

// TestAdditionalClaimsCannotShadowReservedClaimsInAnyCase: encoding/json and
// golang-jwt match claim names case-insensitively (last one wins), so an
// additional claim "Sub" or "EXP" written after the real claims would
// override them for a Go reader. Every letter-case variant is refused with
// 422 naming the field, on both endpoints that take additional_claims,
// before anything is issued.
func TestAdditionalClaimsCannotShadowReservedClaimsInAnyCase(t *testing.T) {
	a := newTestAPI(t, Deps{Options: Options{Dev: true}, Index: index.New(index.Options{})})
	names := []string{
		"sub", "Sub", "SUB", "sUb", "suB",
		"jti", "Jti", "JTI", "jTi",
		"exp", "EXP", "Exp", "eXp",
		"iat", "Iat", "IAT",
		"iss", "Iss", "ISS",
		"nbf", "Nbf", "NBF",
		"aud", "Aud", "AUD",
		"typ", "Typ", "TYP",
		"cnf", "Cnf", "CNF",
		"active", "Active", "ACTIVE",
		"token_type", "Token_Type", "TOKEN_TYPE",
		"ſub", "Iſſ", // U+017F LATIN SMALL LETTER LONG S folds to "s" (so does encoding/json)
	}
	endpoints := []struct{ path, body string }{
		{"/token", `{"subject":"alice","additional_claims":{%s:"x","role":"admin"}}`},
		{"/token/refresh/create", `{"subject":"alice","client_binding":"device-1","additional_claims":{"role":"admin",%s:4102444800}}`},
	}
	for _, ep := range endpoints {
		for _, name := range names {
			t.Run(ep.path+"/"+name, func(t *testing.T) {
				body := strings.Replace(ep.body, "%s", strconv.Quote(name), 1)
				code, resp := serve(t, a, http.MethodPost, ep.path, body)
				var e struct {
					Detail string `json:"detail"`
				}
				if err := json.Unmarshal([]byte(resp), &e); err != nil || code != http.StatusUnprocessableEntity {
					t.Fatalf("%s with additional claim %q = %d %s, want 422", ep.path, name, code, resp)
				}
				if !strings.HasPrefix(e.Detail, "additional_claims: ") || !strings.Contains(e.Detail, strconv.Quote(name)) {
					t.Fatalf("detail %q does not name additional_claims and %q", e.Detail, name)
				}
			})
		}
	}
}

// TestReservedClaimSetAgreesWithChecks: every lower-case reserved name is
// refused by checkClaims, and names that merely resemble one are accepted.
func TestReservedClaimSetAgreesWithChecks(t *testing.T) {
	for _, name := range reservedClaims {
		if checkClaims(map[string]any{strings.ToUpper(name): 1}) == nil {
			t.Errorf("%q (upper case) accepted", name)
		}
		if !token.IsReservedClaim(name) {
			t.Errorf("IsReservedClaim(%q) = false", name)
		}
	}
	for _, name := range []string{"subject", "sub_", "Subs", "role", "scope", "client_id", "expires", "s", "", "tokentype", "ıss"} {
		if err := checkClaims(map[string]any{name: "v"}); err != nil {
			t.Errorf("%q refused: %v", name, err)
		}
	}
}
