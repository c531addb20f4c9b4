package httpapi

import (
	"reflect"
	"testing"
)

// TestExtraClaimsDropsReservedNamesInAnyCase: a refresh token minted before
// additional_claims were checked case-insensitively may carry "Sub" or
// "EXP"; refreshing it must neither fail nor carry them into new tokens.
func TestExtraClaimsDropsReservedNamesInAnyCase(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    map[string]any
	}{
		{"registered only", `{"sub":"u","exp":1,"iat":1,"jti":"j","iss":"i","typ":"refresh"}`, nil},
		{"custom kept", `{"sub":"u","role":"admin"}`, map[string]any{"role": "admin"}},
		{"case variants dropped", `{"sub":"u","Sub":"bob","EXP":4102444800,"Jti":"x","ſub":"eve","team":"a"}`, map[string]any{"team": "a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := extraClaims([]byte(tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("extraClaims = %v, want %v", got, tc.want)
			}
		})
	}
}
