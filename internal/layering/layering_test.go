package layering

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/revocd/revocd"

// ioLibraries are the network, database, storage and actor libraries that
// the pure packages must never reach, directly or transitively.
var ioLibraries = []string{
	"github.com/redis/...", "github.com/twmb/...", "github.com/valyala/...", "github.com/anthdm/...",
	"net/http/...", "database/sql/...", "modernc.org/...",
}

// noNetwork are the libraries of pure data packages: ioLibraries and any
// network package. (os is reached through fmt and cannot be fenced off.)
var noNetwork = append([]string{"net", "net/..."}, ioLibraries...)

// moduleRoots is every top-level directory of the module, as internal
// patterns; TestModuleRootsComplete keeps it complete, so that a row built
// from it (allBut) also forbids directories added later.
var moduleRoots = []string{
	"actors/...", "bench/...", "client/...", "cmd/...", "config/...", "crypto/...", "e2e/...", "examples/...",
	"index/...", "internal/...", "persistence/...", "readme/...", "revocation/...", "server/...", "transport/...",
	"validator/...",
}

// allBut returns moduleRoots without keep: a row forbidding every package
// of the module but those. A package's dependencies never include itself,
// so a row may forbid its own root.
func allBut(keep ...string) []string {
	var out []string
	for _, r := range moduleRoots {
		if !slices.Contains(keep, r) {
			out = append(out, r)
		}
	}
	return out
}

// fences is the layering of the module in one table: each row names
// packages of this module (a path, or a prefix ending in "/...") and what
// they must not depend on, transitively: packages of this module (internal)
// and any other import path (external).
var fences = []struct {
	pkgs     string
	internal []string
	external []string
	why      string
}{
	{"index", []string{"actors/...", "server", "transport/...", "persistence/...", "config", "crypto/..."}, ioLibraries,
		"the revocation index is a pure in-memory data structure on the validation hot path"},
	{"revocation", []string{"actors/...", "server", "transport/...", "persistence/...", "config", "index", "crypto/..."}, ioLibraries,
		"the domain types are shared by every layer and depend on none"},
	{"crypto/...", []string{"actors/...", "server", "transport/...", "persistence/...", "config", "index"}, ioLibraries,
		"cryptography is pure: keys, signatures and key exchange, no I/O"},
	{"internal/backoff", []string{"actors/...", "server", "transport/...", "persistence/...", "config", "index", "crypto/...", "revocation"}, ioLibraries,
		"the retry helper is pure: a schedule and a context-aware wait, used by every layer"},
	{"persistence/...", []string{"actors/...", "server", "transport/...", "config"}, []string{"github.com/valyala/...", "github.com/anthdm/..."},
		"storage knows nothing of actors, HTTP or configuration"},
	{"transport/kafka", []string{"actors/...", "server", "persistence/...", "transport/httpapi", "config"}, nil,
		"the Kafka glue moves events; it does not store or route them"},
	{"transport/remote", []string{"actors/...", "server", "persistence/...", "transport/httpapi", "config"}, nil,
		"remote message types are plain generated code"},
	{"actors/...", []string{"server", "transport/httpapi", "config", "cmd/..."}, []string{"github.com/valyala/..."},
		"actors never call back up into the HTTP layer or the wiring"},
	{"transport/httpapi/...", []string{"server", "cmd/..."}, nil,
		"handlers are wired by server/, never the other way round"},
	{"transport/httpapi/...", []string{"persistence/...", "actors/audit"}, nil,
		"handlers send typed messages to the actors (actors/msg) and read the audit log through httpapi.AuditLog: they never reach SQLite or the audit writer"},
	{"client", []string{"server", "actors/...", "persistence/...", "transport/kafka", "index"}, nil,
		"the client library is what users import: only the wire types"},
	{"transport/wire", allBut("revocation/..."), noNetwork,
		"the wire types are plain data shared by client/ and httpapi: the domain types only, no I/O"},
	{"internal/jsonscan", allBut(), noNetwork,
		"the JSON scanner is a pure byte-level helper on the validation hot path: no project imports, no I/O"},
	{"internal/clientsecret", allBut(), noNetwork,
		"the client-secret hasher is a pure helper behind a CLI subcommand: no project imports, no network"},
}

// match reports whether import path p is matched by pattern: the path
// itself, or, for a pattern ending in "/...", the prefix and anything below.
func match(pattern, p string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == prefix || strings.HasPrefix(p, prefix+"/")
	}
	return p == pattern
}

// violations returns the dependencies of pkg that the fence row forbids.
// internal patterns are relative to the module; deps are full import paths.
func violations(internal, external, deps []string) []string {
	var bad []string
	for _, d := range deps {
		rel, inModule := strings.CutPrefix(d, module+"/")
		patterns, p := external, d
		if inModule {
			patterns, p = internal, rel
		}
		for _, pat := range patterns {
			if match(pat, p) {
				bad = append(bad, d)
				break
			}
		}
	}
	return bad
}

// packages returns every non-test package of the module (module-relative)
// with its transitive dependencies, from one `go list` run.
func packages(t *testing.T) map[string][]string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goBin, "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	all := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			all[strings.TrimPrefix(f[0], module+"/")] = f[1:]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return all
}

func TestLayering(t *testing.T) {
	all := packages(t)
	for _, fence := range fences {
		t.Run(fence.pkgs, func(t *testing.T) {
			checked := 0
			for pkg, deps := range all {
				if !match(fence.pkgs, pkg) {
					continue
				}
				checked++
				for _, d := range violations(fence.internal, fence.external, deps) {
					t.Errorf("%s depends on %s: %s", pkg, d, fence.why)
				}
			}
			if checked == 0 {
				t.Fatalf("no package matches %q: the table names a package that no longer exists", fence.pkgs)
			}
		})
	}
}

// TestModuleRootsComplete: every package of the module lies under a
// directory of moduleRoots.
func TestModuleRootsComplete(t *testing.T) {
	for pkg := range packages(t) {
		root := pkg
		if i := strings.IndexByte(pkg, '/'); i >= 0 {
			root = pkg[:i]
		}
		if !slices.Contains(moduleRoots, root+"/...") {
			t.Errorf("package %s: its directory %s is missing from moduleRoots", pkg, root)
		}
	}
}

// TestViolationsCanFail shows the checker flags what each kind of pattern
// forbids and nothing else (a stdlib crypto package is not this module's
// crypto/, net/httptest is not net/http).
func TestViolationsCanFail(t *testing.T) {
	tests := []struct {
		dep  string
		want bool
	}{
		{module + "/actors/audit", true},
		{module + "/actorsx", false},
		{module + "/server", true},
		{module + "/serverless", false},
		{module + "/crypto/token", true},
		{"crypto/sha256", false},
		{"github.com/redis/go-redis/v9", true},
		{"net/http/httptrace", true},
		{"net/httptest", false},
	}
	internal := []string{"actors/...", "server", "crypto/..."}
	for _, tc := range tests {
		got := len(violations(internal, ioLibraries, []string{tc.dep})) == 1
		if got != tc.want {
			t.Errorf("violations(%q) = %v, want %v", tc.dep, got, tc.want)
		}
	}
}
