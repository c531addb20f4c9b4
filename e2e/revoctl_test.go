package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	revoctlOnce sync.Once
	revoctlPath string
	revoctlErr  error
)

// revoctlBin builds cmd/revoctl once, next to the revocd binary of TestMain
// (whose directory TestMain removes at the end).
func revoctlBin(t *testing.T) string {
	t.Helper()
	revoctlOnce.Do(func() {
		revoctlPath = filepath.Join(filepath.Dir(binPath), "revoctl")
		out, err := exec.Command("go", "build", "-o", revoctlPath, "../cmd/revoctl").CombinedOutput()
		if err != nil {
			revoctlErr = errors.New("build revoctl: " + err.Error() + "\n" + string(out))
		}
	})
	if revoctlErr != nil {
		t.Fatal(revoctlErr)
	}
	return revoctlPath
}

// ctlResult is one revoctl run.
type ctlResult struct {
	code           int
	stdout, stderr string
}

// JSON decodes stdout (run with --output json).
func (r ctlResult) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("revoctl output is not a JSON object: %v\n%s", err, r.stdout)
	}
	return m
}

// ctl runs revoctl against n with args and returns its exit code and output.
func ctl(t *testing.T, n *node, env []string, args ...string) ctlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, revoctlBin(t), args...)
	cmd.Env = append(append(cleanEnv(), "REVOCD_URL="+n.URL, "REVOCD_ADMIN_KEY="), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("revoctl %v: %v", args, err)
	}
	return ctlResult{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
}

// ctlWant runs revoctl and requires exit code want.
func ctlWant(t *testing.T, n *node, want int, args ...string) ctlResult {
	t.Helper()
	r := ctl(t, n, nil, args...)
	if r.code != want {
		t.Fatalf("revoctl %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

func str(t *testing.T, m map[string]any, k string) string {
	t.Helper()
	s, ok := m[k].(string)
	if !ok || s == "" {
		t.Fatalf("%q missing or not a string in %v", k, m)
	}
	return s
}

var sessionKeyLine = regexp.MustCompile(`(?m)^session_key:\s+([0-9a-f]+)$`)

// TestRevoctlEndToEnd drives the real revoctl binary against a real revocd:
// issue → validate → revoke → validate (revoked) → refresh with X-Wing
// forward secrecy → event feed → key rotation.
func TestRevoctlEndToEnd(t *testing.T) {
	n := startNode(t, "", nil)

	ctlWant(t, n, 0, "health")
	ctlWant(t, n, 0, "ready")

	iss := ctlWant(t, n, 0, "issue", "--subject", "ctl-user", "--claim", "role=tester", "--claim", "level:=3", "--output", "json").JSON(t)
	tok, jti := str(t, iss, "access_token"), str(t, iss, "jti")
	kept := str(t, ctlWant(t, n, 0, "--output", "json", "issue", "--subject", "ctl-keeper").JSON(t), "access_token")

	v := ctlWant(t, n, 0, "validate", tok)
	if !strings.Contains(v.stdout, "Token is valid and not revoked") || !strings.Contains(v.stdout, "role:") {
		t.Fatalf("validate output:\n%s", v.stdout)
	}
	insp := ctlWant(t, n, 0, "inspect", tok, "--output", "json").JSON(t)
	oldKid := str(t, insp["header"].(map[string]any), "kid")
	if c := insp["claims"].(map[string]any); c["level"] != float64(3) || c["jti"] != jti {
		t.Fatalf("inspect claims: %v", c)
	}

	rv := ctlWant(t, n, 0, "revoke", "jti", jti, "--reason", "revoctl e2e", "--output", "json").JSON(t)
	str(t, rv, "event_id")

	r := ctlWant(t, n, 3, "validate", tok, "--output", "json").JSON(t)
	if r["revoked"] != true || r["valid"] != false {
		t.Fatalf("revoked token: %v", r)
	}
	ctlWant(t, n, 0, "validate", "--no-revocation-check", tok)
	ctlWant(t, n, 2, "validate", "not-a-token")

	// Refresh with an X-Wing ephemeral key: revoctl opens the session key.
	rc := ctlWant(t, n, 0, "refresh", "create", "--subject", "ctl-user", "--binding", "device-1", "--output", "json").JSON(t)
	refresh := str(t, rc, "refresh_token")
	ex := ctlWant(t, n, 0, "refresh", "exchange", "--refresh-token", refresh, "--binding", "device-1", "--kex", "x-wing")
	m := sessionKeyLine.FindStringSubmatch(ex.stdout)
	if m == nil || len(m[1]) != 64 {
		t.Fatalf("no 64-hex-char session key in:\n%s", ex.stdout)
	}
	if !strings.Contains(ex.stdout, "kex:") || !strings.Contains(ex.stdout, "x-wing") {
		t.Fatalf("exchange output:\n%s", ex.stdout)
	}
	// Rotation gave a new refresh token; ML-KEM-768 and X25519 work too.
	rotated := regexp.MustCompile(`(?m)^refresh_token:\s+(\S+)$`).FindStringSubmatch(ex.stdout)
	if rotated == nil || rotated[1] == refresh {
		t.Fatalf("no rotated refresh token in:\n%s", ex.stdout)
	}
	next := rotated[1]
	sessionKeys := map[string]bool{m[1]: true}
	for _, kind := range []string{"ml-kem-768", "x25519"} {
		out := ctlWant(t, n, 0, "refresh", "exchange", "--refresh-token", next, "--binding", "device-1", "--kex", kind, "--output", "json").JSON(t)
		sk, err := hex.DecodeString(str(t, out, "session_key"))
		if err != nil || len(sk) != 32 || out["kex"] != kind || sessionKeys[hex.EncodeToString(sk)] {
			t.Fatalf("%s exchange: %v", kind, out)
		}
		sessionKeys[hex.EncodeToString(sk)] = true
		ctlWant(t, n, 0, "validate", str(t, out, "access_token"))
		next = str(t, out, "refresh_token")
	}
	if r := ctlWant(t, n, 4, "refresh", "exchange", "--refresh-token", next, "--binding", "other-device"); !strings.Contains(r.stderr, "API error 401") {
		t.Fatalf("binding mismatch stderr: %s", r.stderr)
	}

	// The event feed shows the revocation.
	tail := ctlWant(t, n, 0, "events", "tail", "--after", "0", "--output", "json")
	found := false
	for _, line := range strings.Split(strings.TrimSpace(tail.stdout), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("events tail line %q: %v", line, err)
		}
		if e["type"] == "revoke_jti" && e["value"] == jti && e["reason"] == "revoctl e2e" {
			found = true
		}
	}
	if !found {
		t.Fatalf("revocation of %s not in the feed:\n%s", jti, tail.stdout)
	}
	if h := ctlWant(t, n, 0, "events", "tail"); !strings.Contains(h.stdout, jti) || !strings.Contains(h.stdout, "revoke_jti") {
		t.Fatalf("human events tail:\n%s", h.stdout)
	}

	// Key rotation: new tokens carry the new kid; older tokens still verify.
	rot := ctlWant(t, n, 0, "keys", "rotate", "--output", "json").JSON(t)
	newKid := str(t, rot, "kid")
	if newKid == oldKid || rot["rotated"] != true {
		t.Fatalf("rotate: %v (old kid %s)", rot, oldKid)
	}
	fresh := str(t, ctlWant(t, n, 0, "issue", "--subject", "ctl-user", "--output", "json").JSON(t), "access_token")
	hdr := ctlWant(t, n, 0, "inspect", fresh, "--output", "json").JSON(t)["header"].(map[string]any)
	if hdr["kid"] != newKid {
		t.Fatalf("token after rotation has kid %v, want %s", hdr["kid"], newKid)
	}
	ctlWant(t, n, 0, "validate", fresh)
	ctlWant(t, n, 0, "validate", kept)
	if j := ctlWant(t, n, 0, "keys", "jwks", "--output", "json"); !strings.Contains(j.stdout, `"keys"`) {
		t.Fatalf("jwks: %s", j.stdout)
	}

	// Logout: a revoked refresh token no longer refreshes.
	ctlWant(t, n, 0, "refresh", "revoke", next)
	ctlWant(t, n, 4, "refresh", "exchange", "--refresh-token", next, "--binding", "device-1")

	// Usage and network errors exit 1.
	ctlWant(t, n, 1, "revoke", "nonsense", "x")
	ctlWant(t, n, 1, "--url", "http://127.0.0.1:1", "--timeout", "2s", "health")
	// API errors exit 4 with the server's detail.
	if r := ctlWant(t, n, 4, "issue", "--subject", "x", "--expires-minutes", "999999"); !strings.Contains(r.stderr, "expires_minutes") {
		t.Fatalf("422 detail not printed: %s", r.stderr)
	}
}

// TestRevoctlEventsFollow checks that `events tail --follow` prints
// revocations made while it runs and exits 0 on SIGINT.
func TestRevoctlEventsFollow(t *testing.T) {
	n := startNode(t, "", nil)
	cmd := exec.Command(revoctlBin(t), "events", "tail", "--follow", "--interval", "100ms", "--output", "json")
	cmd.Env = append(cleanEnv(), "REVOCD_URL="+n.URL)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for i, sub := range []string{"follow-1", "follow-2"} {
		ctlWant(t, n, 0, "revoke", "sub", sub)
		select {
		case line := <-lines:
			var e map[string]any
			if err := json.Unmarshal([]byte(line), &e); err != nil || e["value"] != sub || e["type"] != "revoke_sub" {
				t.Fatalf("event %d: %q (%v)", i, line, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event for %s within 10s; stderr: %s", sub, errb.String())
		}
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after SIGINT: %v; stderr: %s", err, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("revoctl events tail --follow did not stop on SIGINT")
	}
}

// TestRevoctlAdminKey checks --admin-key/REVOCD_ADMIN_KEY against a node
// outside dev mode.
func TestRevoctlAdminKey(t *testing.T) {
	key := "revoctl-admin-key-0123456789"
	n := startNode(t, "", []string{"JWT_SECRET_KEY=" + strings.Repeat("s", 48), "ADMIN_API_KEYS=" + key}, "--no-dev")
	if r := ctlWant(t, n, 4, "issue", "--subject", "u"); !strings.Contains(r.stderr, "401") {
		t.Fatalf("no key: %s", r.stderr)
	}
	ctlWant(t, n, 0, "issue", "--subject", "u", "--admin-key", key)
	if r := ctl(t, n, []string{"REVOCD_ADMIN_KEY=" + key}, "events", "tail"); r.code != 0 {
		t.Fatalf("key from env: exit %d: %s", r.code, r.stderr)
	}
}
