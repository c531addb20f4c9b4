package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// npmClient installs the locked npm packages of e2e/testdata/<name> once
// per lock file into the user cache directory (an install is complete when
// node_modules/<marker>/package.json exists) and returns the path of a
// per-test copy of its client.mjs placed next to them, so node resolves the
// script's imports there and concurrent runs never read a half-written
// script. node and npm are required (scripts/test-deps.sh installs them):
// the test fails, never skips, without them.
func npmClient(t *testing.T, name, marker string) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required by the %s e2e test (scripts/test-deps.sh installs it): %v", tool, name, err)
		}
	}
	src := filepath.Join("testdata", name)
	read := func(file string) []byte {
		b, err := os.ReadFile(filepath.Join(src, file))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pkg, lock, script := read("package.json"), read("package-lock.json"), read("client.mjs")
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256(append(slices.Clone(pkg), lock...))
	dir := filepath.Join(cache, "revocd-e2e", name+"-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", marker, "package.json")); err != nil {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		for file, b := range map[string][]byte{"package.json": pkg, "package-lock.json": lock} {
			if err := os.WriteFile(filepath.Join(tmp, file), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", tmp, err, out)
		}
		// Another test process may have installed it meanwhile: either
		// copy is the same lock file's.
		if err := os.Rename(tmp, dir); err != nil {
			if _, statErr := os.Stat(dir); statErr != nil {
				t.Fatalf("install %s: %v", dir, err)
			}
		}
	}
	f, err := os.CreateTemp(dir, "client-*.mjs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(f.Name()) })
	if _, err := f.Write(script); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}
