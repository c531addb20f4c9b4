package httpapi

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/transport/httpapi/apidocs"
)

// TestRouteAuthAgreesWithOpenAPI: the route table decides which endpoints
// need the admin key; /openapi.json must say the same (bearerAuth and a 401
// response) for every route, and document no operation the server does
// not route. Derived from the route table, so a route made
// admin (such as /token/inspect) cannot drift from its documentation.
func TestRouteAuthAgreesWithOpenAPI(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Security  []map[string]any `json:"security"`
			Responses map[string]any   `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(apidocs.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	a := newTestAPI(t, Deps{Options: Options{}, Index: index.New(index.Options{})})
	var routed []string
	for _, r := range a.routes() {
		name := r.method + " " + r.name
		routed = append(routed, name)
		op, ok := doc.Paths[r.name][strings.ToLower(r.method)]
		if !ok {
			t.Errorf("%s is not in /openapi.json", name)
			continue
		}
		bearer := slices.ContainsFunc(op.Security, func(s map[string]any) bool { _, ok := s["bearerAuth"]; return ok })
		if bearer != r.admin {
			t.Errorf("%s: admin route %v, OpenAPI bearerAuth %v", name, r.admin, bearer)
		}
		if _, ok := op.Responses["401"]; r.admin && !ok {
			t.Errorf("%s: admin route without a documented 401", name)
		}
	}
	for _, p := range apidocs.Paths() {
		if !slices.Contains(routed, p) {
			t.Errorf("/openapi.json documents %s, which is not routed", p)
		}
	}
}
