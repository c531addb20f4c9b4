package validator

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeExampleCompiles builds the Go program of the README's
// "Validate in your own Go service" section against this module (through
// a build overlay, so nothing is written into the repository): the
// README's example cannot drift from the package's API.
func TestReadmeExampleCompiles(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatal("the go command is needed to build the README's example")
	}
	src, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const heading = "\n## Validate in your own Go service\n"
	_, section, ok := strings.Cut(string(src), heading)
	if !ok {
		t.Fatalf("README.md has no section %q", strings.TrimSpace(heading))
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	_, code, ok := strings.Cut(section, "```go\n")
	if !ok {
		t.Fatal("the section has no ```go block")
	}
	code, _, ok = strings.Cut(code, "```")
	if !ok || !strings.Contains(code, "validator.New(") {
		t.Fatalf("the section's go block is unterminated or does not call validator.New:\n%s", code)
	}
	dir := t.TempDir()
	main := filepath.Join(dir, "main.go")
	if err := os.WriteFile(main, []byte(code), 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	// A package directory that exists only in the overlay.
	virtual := filepath.Join(root, "examples", "readme-validate-snippet", "main.go")
	overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{virtual: main}})
	ov := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ov, overlay, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-overlay", ov, "-o", filepath.Join(dir, "snippet"), "./examples/readme-validate-snippet")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the README's example does not build: %v\n%s\n%s", err, out, code)
	}
}
