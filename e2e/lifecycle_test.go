package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGracefulShutdownOnSIGTERM(t *testing.T) {
	n := startNode(t, "", nil, "--shutdown-timeout-seconds", "10")
	tok, jti := n.issue("uma")
	n.revoke("revoke_jti", jti)
	if err := n.terminate(15 * time.Second); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, n.log.String())
	}
	if !strings.Contains(n.log.String(), "stopped") {
		t.Fatalf("no clean stop in the log:\n%s", n.log.String())
	}
	n.start()
	if v := n.validate(tok); v["revoked"] != true {
		t.Fatalf("after graceful restart: %v", v)
	}
}

// selfSigned writes a CA-less self-signed certificate for 127.0.0.1.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "revocd-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	kb, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestHTTPSListener(t *testing.T) {
	cert, key, pool := selfSigned(t)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	n := startNodeWith(t, client, "", []string{"TLS_CERT=" + cert, "TLS_KEY=" + key})
	if !strings.HasPrefix(n.URL, "https://") {
		t.Fatal("node not on https")
	}
	tok, _ := n.issue("vic")
	if v := n.validate(tok); v["valid"] != true {
		t.Fatalf("over TLS: %v", v)
	}
	// Plain HTTP to the TLS port is refused.
	if resp, err := http.Get("http://" + n.Addr + "/health"); err == nil && resp.StatusCode == 200 {
		t.Fatal("plain HTTP served on the TLS listener")
	}
}

func TestRateLimitOnIssuance(t *testing.T) {
	n := startNode(t, "", []string{"RATE_LIMIT_PER_SECOND=1", "RATE_LIMIT_BURST=3"})
	var limited response
	for i := 0; i < 10; i++ {
		r := n.do("POST", "/token", `{"subject":"w"}`)
		if r.Status == http.StatusTooManyRequests {
			limited = r
			break
		}
	}
	if limited.Status != http.StatusTooManyRequests || limited.Header.Get("Retry-After") == "" {
		t.Fatalf("no 429 with Retry-After after the burst: %d", limited.Status)
	}
	// Validation is never rate limited.
	tok, _ := func() (string, string) {
		time.Sleep(1100 * time.Millisecond) // let one token refill
		return n.issue("w")
	}()
	for i := 0; i < 20; i++ {
		if v := n.validate(tok); v["valid"] != true {
			t.Fatalf("validation limited: %v", v)
		}
	}
}
