package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Cluster secrets of the tests: the cluster's, and an outsider's.
const (
	trustSecret    = "cluster-secret-of-the-test-0123456789abcdef"
	outsiderSecret = "not-the-cluster-secret-0123456789abcdef-xyz"
)

// TestClusterTrustDevRecipe (issue #11: "peers connect, /ready says ok,
// but a revocation on A is never enforced on B or C"): three --dev nodes
// started as the README's recipe says, with only NODE_ID, CLUSTER_LISTEN
// and one CLUSTER_PEERS list naming all three, enforce each other's
// revocations and report every peer ok. The old nodes all signed with the
// default key id under different keys and dropped every peer event as
// bad_signature.
func TestClusterTrustDevRecipe(t *testing.T) {
	ids := []string{"a", "b", "c"}
	recipe := newClusterRecipe(t, ids...)
	m := map[string]*clusterMember{}
	for _, id := range ids {
		m[id] = recipe.start(t, id, "", nil)
	}
	for _, from := range ids {
		tok, jti := m[from].issue("user-" + from)
		m[from].revoke("revoke_jti", jti)
		for _, to := range ids {
			if to != from {
				m[to].waitRevoked(tok, "revocation on "+from)
			}
		}
	}
	for _, id := range ids {
		for _, p := range ids {
			if p == id {
				continue
			}
			m[id].waitPeer(p, "connected")
			if ok, detail := m[id].peerCheck(p); !ok || strings.Contains(detail, "refused") {
				t.Errorf("%s: peer %s: ok=%v %q", id, p, ok, detail)
			}
		}
		if n := m[id].metric("revocd_events_dropped_total", `source="peer"`); n != 0 {
			t.Errorf("%s: %v peer events dropped", id, n)
		}
	}
}

// clusterCert writes a self-signed certificate for 127.0.0.1 usable as a
// node certificate and as its own CA (both usages), and its key.
func clusterCert(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	kb, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// adminRevoke revokes a jti on a production node.
func adminRevoke(t *testing.T, n *node, jti string) {
	t.Helper()
	adminPost(t, n, "/revoke", map[string]any{"type": "revoke_jti", "value": jti})
}

// TestClusterTrustProductionSecret: production nodes with mutual TLS and
// the same CLUSTER_SECRET (and nothing else about trust) enforce each
// other's revocations. An outsider with a well-formed identity (a
// certificate of the cluster's CA, a valid event-signing key, configured
// as a peer) but not the secret can neither get its key trusted nor its
// revocations enforced, and the node's /ready reports that peer not ok
// with the reason. The old nodes trusted no peer key without
// EVENT_TRUSTED_KEYS and reported every peer ok.
func TestClusterTrustProductionSecret(t *testing.T) {
	dir := t.TempDir()
	cert, key := clusterCert(t, dir, "cluster")
	recipe := newClusterRecipe(t, "a", "b", "x")
	start := func(id, secret string) *clusterMember {
		return recipe.start(t, id, "", []string{
			"JWT_SECRET_KEY=" + prodSecret, "ADMIN_API_KEYS=" + prodAdminKey, "CLUSTER_SECRET=" + secret,
			"CLUSTER_TLS_CERT=" + cert, "CLUSTER_TLS_KEY=" + key, "CLUSTER_TLS_CA=" + cert,
		}, "--no-dev")
	}
	a, b, x := start("a", trustSecret), start("b", trustSecret), start("x", outsiderSecret)

	tokA := adminPost(t, a.node, "/token", map[string]any{"subject": "ann"})
	adminRevoke(t, a.node, tokA["jti"].(string))
	b.waitRevoked(tokA["access_token"].(string), "revocation on a")
	tokB := adminPost(t, b.node, "/token", map[string]any{"subject": "bob"})
	adminRevoke(t, b.node, tokB["jti"].(string))
	a.waitRevoked(tokB["access_token"].(string), "revocation on b")

	// The outsider revokes a token of a's: never enforced on a. a is
	// behind x by 2 events: x's key_state (published at start) and that
	// revocation.
	tokX := adminPost(t, a.node, "/token", map[string]any{"subject": "xavier"})
	adminRevoke(t, x.node, tokX["jti"].(string))
	deadline := time.Now().Add(clusterBound)
	var detail string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, detail = a.peerCheck("x"); !ok && strings.Contains(detail, "refused") && strings.Contains(detail, "behind=2 events") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ok, _ := a.peerCheck("x"); ok || !strings.Contains(detail, "events refused:") || !strings.Contains(detail, "behind=2 events") {
		t.Fatalf("a: peer x is ok=%v %q, want not ok with the reason", ok, detail)
	}
	if v := a.validate(tokX["access_token"].(string)); v["revoked"] == true {
		t.Fatalf("a enforced the outsider's revocation: %v", v)
	}
	if ok, detail := a.peerCheck("b"); !ok {
		t.Fatalf("a: peer b %q, want ok", detail)
	}
	n := 0
	for _, line := range strings.Split(a.log.String(), "\n") {
		if strings.Contains(line, "peer events are refused") && strings.Contains(line, " peer=x ") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("a logged the refusal of x's events %d times, want once:\n%s", n, tail(a.log.String(), 4000))
	}
	if !strings.Contains(a.log.String(), "CLUSTER_SECRET") {
		t.Errorf("a's log does not name the fix (CLUSTER_SECRET)")
	}

	// Nor can the outsider add a signing key: x rotates (its key_state
	// event carries the new HS256 key, sealed under the JWT_SECRET_KEY it
	// shares), and a token x signs with it is unknown on a, which holds
	// only the keys of trusted nodes. b's rotated key is learnt by a.
	adminPost(t, x.node, "/admin/keys/rotate", map[string]any{})
	adminPost(t, b.node, "/admin/keys/rotate", map[string]any{})
	fromX := adminPost(t, x.node, "/token", map[string]any{"subject": "xena"})["access_token"].(string)
	fromB := adminPost(t, b.node, "/token", map[string]any{"subject": "bea"})["access_token"].(string)
	if v := x.validate(fromX); v["valid"] != true {
		t.Fatalf("x's own token on x: %v", v)
	}
	deadline = time.Now().Add(clusterBound)
	for time.Now().Before(deadline) && a.validate(fromB)["valid"] != true {
		time.Sleep(20 * time.Millisecond)
	}
	if v := a.validate(fromB); v["valid"] != true {
		t.Fatalf("b's token after b's rotation, on a: %v (b's key_state not learnt)", v)
	}
	if v := a.validate(fromX); v["valid"] == true {
		t.Fatalf("a accepted a token signed with the outsider's key: %v", v)
	}
}

// TestClusterTrustProductionRefusals: a production node with peers and no
// way to trust them exits 2 naming CLUSTER_SECRET, and so does one given
// the public --dev cluster secret. The old node started and silently
// dropped its peers' events.
func TestClusterTrustProductionRefusals(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		env  []string
	}{
		{"no secret", nil},
		{"dev secret", []string{"CLUSTER_SECRET=revocd-dev-cluster-secret-not-for-production"}},
		{"short secret", []string{"CLUSTER_SECRET=short"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(binPath, "--listen", clusterAddr(t), "--sqlite-path", filepath.Join(dir, fmt.Sprintf("%d.db", i)))
			cmd.Env = append(cleanEnv(), append([]string{
				"JWT_SECRET_KEY=" + prodSecret, "ADMIN_API_KEYS=" + prodAdminKey, "NODE_ID=a",
				"CLUSTER_LISTEN=" + clusterAddr(t), "CLUSTER_PEERS=b@127.0.0.1:1",
			}, tc.env...)...)
			done := make(chan struct{})
			var out []byte
			var err error
			go func() { out, err = cmd.CombinedOutput(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Fatal("revocd kept running")
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "CLUSTER_SECRET") {
				t.Fatalf("exit %v, want 2 naming CLUSTER_SECRET:\n%s", err, out)
			}
		})
	}
}
