package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// binaries are the executables a run needs.
type binaries struct {
	revocd    string
	refserver string
}

// FindModuleRoot returns the nearest directory at or above start holding
// go.mod.
func FindModuleRoot(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for range 64 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("module root: no go.mod above " + start)
}

// buildBinaries builds what is not given prebuilt into outDir.
func buildBinaries(ctx context.Context, moduleDir, outDir, revocd string) (binaries, error) {
	b := binaries{revocd: revocd, refserver: filepath.Join(outDir, "refserver")}
	if b.revocd == "" {
		b.revocd = filepath.Join(outDir, "revocd")
		if err := goBuild(ctx, moduleDir, b.revocd, "./cmd/revocd"); err != nil {
			return b, err
		}
	}
	if err := goBuild(ctx, moduleDir, b.refserver, "./bench/refserver"); err != nil {
		return b, err
	}
	return b, nil
}

func goBuild(ctx context.Context, moduleDir, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = moduleDir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}
