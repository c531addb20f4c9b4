package index

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// forbiddenDeps are import path prefixes the index must never depend on:
// it is a pure in-memory data structure on the validation hot path.
var forbiddenDeps = []string{
	"github.com/redis",
	"github.com/twmb",
	"github.com/valyala",
	"net/http",
	"database/sql",
	"modernc.org",
}

// TestDependencyFence fails if the package (not its tests) transitively
// imports any forbidden dependency.
func TestDependencyFence(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	const pkg = "github.com/revocd/revocd/index"
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	deps := strings.Fields(string(out))
	found := false
	for _, d := range deps {
		if d == pkg {
			found = true
		}
		for _, bad := range forbiddenDeps {
			if d == bad || strings.HasPrefix(d, bad+"/") {
				t.Errorf("%s depends on forbidden %s", pkg, d)
			}
		}
	}
	if !found {
		t.Fatalf("go list output does not list %s itself:\n%s", pkg, out)
	}
}
