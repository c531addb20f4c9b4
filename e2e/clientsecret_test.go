package e2e

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestClientSecretHashEntryAuthenticates: the entry `revocd
// client-secret-hash --generate` prints, put in OAUTH_CLIENTS of a
// production node, lets the client introspect with the printed secret
// (client_secret_basic); a wrong secret is refused, and the node logs the
// failure at WARN with the client id and method but never the secret.
func TestClientSecretHashEntryAuthenticates(t *testing.T) {
	out, err := exec.Command(binPath, "client-secret-hash", "--generate", "gateway").Output()
	if err != nil {
		t.Fatalf("client-secret-hash --generate: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "gateway:") {
		t.Fatalf("output %q: want the secret and the entry", out)
	}
	secret, entry := lines[0], lines[1]
	const adminKey = "client-secret-e2e-admin-key-0123"
	n := startNode(t, "", []string{
		"JWT_SECRET_KEY=" + strings.Repeat("c", 48), "ADMIN_API_KEYS=" + adminKey, "OAUTH_CLIENTS=" + entry,
	}, "--no-dev")
	introspect := func(user, pass string) int {
		req, _ := http.NewRequest(http.MethodPost, n.URL+"/oauth2/introspect", strings.NewReader("token=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(user, pass)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := introspect("gateway", secret); st != 200 {
		t.Fatalf("introspect with the generated secret: %d", st)
	}
	wrong := secret[:len(secret)-1] + "x"
	if st := introspect("gateway", wrong); st != 401 {
		t.Fatalf("introspect with a wrong secret: %d, want 401", st)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(n.log.String(), "oauth client authentication failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no WARN line for the failed login:\n%s", tail(n.log.String(), 20))
		}
		time.Sleep(10 * time.Millisecond)
	}
	log := n.log.String()
	if !strings.Contains(log, "level=WARN msg=\"oauth client authentication failed\" client_id=gateway auth_method=client_secret_basic reason=wrong_secret") {
		t.Fatalf("WARN line lacks id, method or reason:\n%s", tail(log, 20))
	}
	if strings.Contains(log, wrong) || strings.Contains(log, secret) {
		t.Fatal("a secret reached the log")
	}
}
