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

// TestEventKeyBeforeTrustedKeysFileExists: `revocd event-key` runs with the
// node's environment before the EVENT_TRUSTED_KEYS file it helps build
// exists (docker-compose.yml's bootstrap); serving with that environment
// is refused with exit 2.
func TestEventKeyBeforeTrustedKeysFileExists(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{
		"SQLITE_PATH":        filepath.Join(dir, "r.db"),
		"EVENT_TRUSTED_KEYS": "@" + filepath.Join(dir, "trusted.json"),
		"TLS_CERT":           filepath.Join(dir, "cert.pem"),
		"TLS_KEY":            filepath.Join(dir, "key.pem"),
	}
	getenv := func(k string) string { return env[k] }
	var stdout, stderr bytes.Buffer
	if code := MainIO(context.Background(), []string{"event-key"}, getenv, &stdout, &stderr); code != ExitOK || !strings.Contains(stdout.String(), `"keys"`) {
		t.Fatalf("event-key: exit %d, stdout %q\n%s", code, stdout.String(), stderr.String())
	}
	stderr.Reset()
	if code := MainIO(context.Background(), []string{"--dev"}, getenv, &stdout, &stderr); code != ExitConfig || !strings.Contains(stderr.String(), "TLS_CERT") {
		t.Fatalf("serve: exit %d, want 2 naming TLS_CERT\n%s", code, stderr.String())
	}
}
