package server

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartWarnsAboutReadableDatabase: an existing database that group or
// others may read is logged at WARN (it holds every private key); an
// owner-only one is not.
func TestStartWarnsAboutReadableDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "r.db")
	run := func() string {
		var stdout, stderr bytes.Buffer
		code := MainIO(context.Background(), []string{"event-key", "--sqlite-path", db}, func(string) string { return "" }, &stdout, &stderr)
		if code != ExitOK {
			t.Fatalf("event-key: exit %d\n%s", code, stderr.String())
		}
		return stderr.String()
	}
	if out := run(); strings.Contains(out, "WARN") {
		t.Fatalf("warned about a new owner-only database:\n%s", out)
	}
	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	out := run()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "path="+db) || !strings.Contains(out, "mode=0644") {
		t.Fatalf("no WARN about the 0644 database:\n%s", out)
	}
}
