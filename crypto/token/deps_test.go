package token

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoIODependencies fences the package: it must stay pure (no network,
// database or storage client anywhere in its import graph).
func TestNoIODependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool not found: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/redis", "github.com/twmb", "github.com/valyala",
		"net/http", "database/sql", "modernc.org",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("forbidden dependency %s (fence %s)", dep, f)
			}
		}
	}
}
