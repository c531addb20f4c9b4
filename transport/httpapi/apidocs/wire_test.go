package apidocs

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/revocd/revocd/transport/wire"
)

// TestSchemasMatchWireTypes: every request and response schema of the
// document has exactly the members of the transport/wire type the server
// writes (and the client sends and decodes), so documentation, server and
// client cannot drift apart.
func TestSchemasMatchWireTypes(t *testing.T) {
	doc := loadDoc(t)
	schemas := doc["components"].(obj)["schemas"].(obj)
	tests := []struct {
		schema string
		typ    any
	}{
		{"TokenRequest", wire.IssueRequest{}},
		{"TokenResponse", wire.IssueResponse{}},
		{"ValidateRequest", wire.ValidateRequest{}},
		{"ValidateResponse", wire.Validation{}},
		{"BatchValidateRequest", wire.BatchValidateRequest{}},
		{"BatchValidateResponse", wire.BatchValidation{}},
		{"InspectResponse", wire.Inspection{}},
		{"RevokeRequest", wire.RevokeRequest{}},
		{"RevokeResponse", wire.RevokeResponse{}},
		{"RefreshCreateRequest", wire.RefreshCreateRequest{}},
		{"RefreshCreateResponse", wire.RefreshCreateResponse{}},
		{"RefreshRequest", wire.RefreshRequest{}},
		{"RefreshResponse", wire.RefreshResponse{}},
		{"RotateKeyResponse", wire.Rotated{}},
		{"RevocationsResponse", wire.EventPage{}},
		{"HealthResponse", wire.Health{}},
		{"ReadyResponse", wire.Readiness{}},
		{"ErrorResponse", wire.Error{}},
	}
	for _, tc := range tests {
		t.Run(tc.schema, func(t *testing.T) {
			s, ok := schemas[tc.schema]
			if !ok {
				t.Fatalf("no schema %s", tc.schema)
			}
			var documented []string
			for name := range deref(t, doc, s)["properties"].(obj) {
				documented = append(documented, name)
			}
			slices.Sort(documented)
			rt := reflect.TypeOf(tc.typ)
			var members []string
			for i := range rt.NumField() {
				name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
				members = append(members, name)
			}
			slices.Sort(members)
			if !slices.Equal(documented, members) {
				t.Errorf("schema %s documents %v; wire.%s has %v", tc.schema, documented, rt.Name(), members)
			}
		})
	}
	// The object form of POST /token/refresh/revoke's body.
	one := deref(t, doc, schemas["RefreshRevokeRequest"])["oneOf"].([]any)
	props := deref(t, doc, one[1])["properties"].(obj)
	if _, ok := props["refresh_token"]; !ok || len(props) != reflect.TypeFor[wire.RefreshRevokeRequest]().NumField() {
		t.Errorf("RefreshRevokeRequest object form %v, want wire.RefreshRevokeRequest's members", props)
	}
}
