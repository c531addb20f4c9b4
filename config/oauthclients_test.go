package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOAuthClients(t *testing.T) {
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	dir := t.TempDir()
	file := filepath.Join(dir, "clients.json")
	if err := os.WriteFile(file, []byte(`{"gateway": "`+sum("gw-secret")+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, value string
		want        map[string]string // client id -> secret
		err         string
	}{
		{name: "unset", value: ""},
		{name: "one", value: "rs1:" + sum("s1"), want: map[string]string{"rs1": "s1"}},
		{name: "upper-case hex and spaces", value: " rs1:" + strings.ToUpper(sum("s1")) + " , rs2:" + sum("s2"), want: map[string]string{"rs1": "s1", "rs2": "s2"}},
		{name: "file and inline", value: "@" + file + ",rs1:" + sum("s1"), want: map[string]string{"gateway": "gw-secret", "rs1": "s1"}},
		{name: "plain secret instead of hash", value: "rs1:my-secret", err: "64 hex digits"},
		{name: "short hash", value: "rs1:" + sum("s1")[:62], err: "64 hex digits"},
		{name: "no colon", value: "rs1", err: "client_id:SHA256HEX"},
		{name: "empty id", value: ":" + sum("s1"), err: "non-empty id"},
		{name: "duplicate", value: "rs1:" + sum("a") + ",rs1:" + sum("b"), err: "twice"},
		{name: "missing file", value: "@" + filepath.Join(dir, "nope.json"), err: "nope.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, []string{"--dev"}, map[string]string{"OAUTH_CLIENTS": tc.value})
			if tc.err != "" {
				var ce *Error
				if err == nil || !errors.As(err, &ce) || ce.Var != "OAUTH_CLIENTS" || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want an OAUTH_CLIENTS error mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.OAuthClients) != len(tc.want) {
				t.Fatalf("clients = %v, want %v", c.OAuthClients, tc.want)
			}
			for id, secret := range tc.want {
				if c.OAuthClients[id] != sha256.Sum256([]byte(secret)) {
					t.Errorf("client %q: wrong hash", id)
				}
			}
		})
	}
}

func TestPublicBaseURL(t *testing.T) {
	// With TLS_CERT the default is https (the files are read later, so
	// the derivation is checked on its own).
	tlsCfg := &Config{ListenAddr: "0.0.0.0:8443", TLSCert: "cert.pem"}
	if tlsCfg.defaultPublicBaseURL(); tlsCfg.PublicBaseURL != "https://0.0.0.0:8443" {
		t.Errorf("with TLS_CERT: PublicBaseURL = %q, want https://0.0.0.0:8443", tlsCfg.PublicBaseURL)
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
		bad  bool
	}{
		{name: "default from LISTEN_ADDR", env: map[string]string{"LISTEN_ADDR": "127.0.0.1:9100"}, want: "http://127.0.0.1:9100"},
		{name: "explicit, trailing slash dropped", env: map[string]string{"PUBLIC_BASE_URL": "https://auth.example.com/revocd/"}, want: "https://auth.example.com/revocd"},
		{name: "not a URL", env: map[string]string{"PUBLIC_BASE_URL": "auth.example.com"}, bad: true},
		{name: "query", env: map[string]string{"PUBLIC_BASE_URL": "https://auth.example.com/?a=b"}, bad: true},
		{name: "credentials", env: map[string]string{"PUBLIC_BASE_URL": "https://u:p@auth.example.com"}, bad: true},
		{name: "ftp", env: map[string]string{"PUBLIC_BASE_URL": "ftp://auth.example.com"}, bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, []string{"--dev"}, tc.env)
			if tc.bad {
				var ce *Error
				if err == nil || !errors.As(err, &ce) || ce.Var != "PUBLIC_BASE_URL" {
					t.Fatalf("err = %v, want a PUBLIC_BASE_URL error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.PublicBaseURL != tc.want {
				t.Fatalf("PublicBaseURL = %q, want %q", c.PublicBaseURL, tc.want)
			}
		})
	}
}
