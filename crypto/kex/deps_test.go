package kex

import (
	"os/exec"
	"strings"
	"testing"
)

// forbiddenDeps are import path prefixes this pure crypto package must never
// pull in, even transitively.
var forbiddenDeps = []string{
	"net/http", "github.com/redis", "github.com/twmb", "github.com/valyala", "database/sql", "modernc.org",
}

func TestNoForbiddenDeps(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range forbiddenDeps {
			if dep == bad || strings.HasPrefix(dep, bad+"/") {
				t.Errorf("package depends on forbidden %s", dep)
			}
		}
	}
}
