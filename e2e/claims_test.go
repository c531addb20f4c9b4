package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestAdditionalClaimsCaseVariantsRefused: golang-jwt's RegisteredClaims
// (encoding/json) match claim names case-insensitively and the last one
// wins, so {"Sub":"bob","Jti":"x","EXP":4102444800} in additional_claims
// would override the real sub, jti and exp for a Go service downstream.
// Every letter-case variant of a reserved name is a 422 naming
// additional_claims, on /token and /token/refresh/create; a harmless claim
// is still accepted and the issued token's registered claims are the real
// ones.
func TestAdditionalClaimsCaseVariantsRefused(t *testing.T) {
	n := startNode(t, "", nil)
	tests := []map[string]any{
		{"Sub": "bob", "Jti": "x", "EXP": 4102444800},
		{"Sub": "bob"}, {"SUB": "bob"}, {"sUb": "bob"}, {"Jti": "x"}, {"JTI": "x"}, {"EXP": 4102444800},
		{"Iat": 1}, {"Iss": "evil"}, {"NBF": 1}, {"Aud": "other"}, {"Typ": "refresh"}, {"Cnf": map[string]any{}},
		{"Token_Type": "refresh_token"}, {"Active": false}, {"ſub": "bob"},
	}
	for _, claims := range tests {
		b, _ := json.Marshal(claims)
		t.Run(string(b), func(t *testing.T) {
			for _, req := range []struct {
				path string
				body map[string]any
			}{
				{"/token", map[string]any{"subject": "alice", "additional_claims": claims}},
				{"/token/refresh/create", map[string]any{"subject": "alice", "client_binding": "device-1", "additional_claims": claims}},
			} {
				r := n.do("POST", req.path, req.body)
				if r.Status != 422 || !strings.Contains(r.JSON(t)["detail"].(string), "additional_claims") {
					t.Fatalf("%s: %d %s, want 422 naming additional_claims", req.path, r.Status, r.Body)
				}
			}
		})
	}
	// The downstream view: a Go service parsing with RegisteredClaims sees
	// the real claims, and the extra claim is carried.
	tok := n.post("/token", map[string]any{"subject": "alice", "additional_claims": map[string]any{"role": "admin", "subject_hint": "bob"}}, 200)["access_token"].(string)
	var rc struct {
		jwt.RegisteredClaims
		Role string `json:"role"`
	}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &rc); err != nil || rc.Subject != "alice" || rc.Role != "admin" {
		t.Fatalf("issued claims: %+v %v", rc, err)
	}
}
