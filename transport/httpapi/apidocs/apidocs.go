package apidocs

import (
	"embed"
	"encoding/json"
	"slices"
	"strings"
	"sync"
)

// swaggerUIVersion is the vendored swagger-ui-dist version; the first line
// of assets/VERSION must equal it (checked by a test).
const swaggerUIVersion = "5.35.0"

//go:embed openapi.json
var openapiJSON []byte

//go:embed assets/index.html assets/swagger-ui-bundle.js assets/swagger-ui.css
var assets embed.FS

// asset is one file served under /docs.
type asset struct {
	file        string
	contentType string
}

// assetTable maps the path under /docs to its embedded file.
var assetTable = map[string]asset{
	"":                      {"assets/index.html", "text/html; charset=utf-8"},
	"/":                     {"assets/index.html", "text/html; charset=utf-8"},
	"/index.html":           {"assets/index.html", "text/html; charset=utf-8"},
	"/swagger-ui-bundle.js": {"assets/swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
	"/swagger-ui.css":       {"assets/swagger-ui.css", "text/css; charset=utf-8"},
}

// OpenAPI returns the OpenAPI 3.1 document (JSON) served at GET /openapi.json,
// with content type "application/json".
//
// The returned slice is shared and must not be modified. It is safe for
// concurrent use.
func OpenAPI() []byte { return openapiJSON }

// Asset returns the bytes and content type for a path under /docs: "" or "/"
// (and "/index.html") give the page, "/swagger-ui-bundle.js" and
// "/swagger-ui.css" the vendored Swagger UI files. For any other path ok is
// false and the caller should answer 404.
//
// The returned slice is shared and must not be modified. It is safe for
// concurrent use.
func Asset(path string) (body []byte, contentType string, ok bool) {
	a, found := assetTable[path]
	if !found {
		return nil, "", false
	}
	b, err := assets.ReadFile(a.file)
	if err != nil { // cannot happen: every table entry is embedded (tested)
		return nil, "", false
	}
	return b, a.contentType, true
}

// httpMethods are the operation keys of an OpenAPI path item.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// paths is the sorted "METHOD /path" list of the document, computed once.
var paths = sync.OnceValue(func() []string {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		panic("apidocs: embedded openapi.json is not valid JSON: " + err.Error()) // caught by tests
	}
	var out []string
	for p, item := range doc.Paths {
		for _, m := range httpMethods {
			if _, ok := item[m]; ok {
				out = append(out, strings.ToUpper(m)+" "+p)
			}
		}
	}
	slices.Sort(out)
	return out
})

// Paths returns every operation the OpenAPI document describes as
// "METHOD /path" (for example "POST /token/validate"), sorted, so that a
// server test can check that routes and documentation agree. The /docs asset
// sub-paths are not operations of the document and are not listed.
//
// Each call returns a fresh slice the caller may modify. It is safe for
// concurrent use.
func Paths() []string { return slices.Clone(paths()) }
