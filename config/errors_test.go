package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestErrorsAreTyped: every refusal is a *Error naming its variable and
// matching ErrInvalid or ErrInsecure, which the command maps to exit 2.
func TestErrorsAreTyped(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		opts     []LoadOption
		wantVar  string
		insecure bool
	}{
		{"bad minutes", []string{"--dev"}, map[string]string{"JWT_ACCESS_TOKEN_EXPIRE_MINUTES": "x"}, nil, "JWT_ACCESS_TOKEN_EXPIRE_MINUTES", false},
		{"default secret", nil, map[string]string{"ADMIN_API_KEYS": "admin-key-0123456789"}, nil, "JWT_SECRET_KEY", true},
		{"trusted keys file missing", []string{"--dev"}, map[string]string{"EVENT_TRUSTED_KEYS": "@" + filepath.Join(dir, "none.json")}, nil, "EVENT_TRUSTED_KEYS", false},
		{"trusted keys file not JSON", []string{"--dev"}, map[string]string{"EVENT_TRUSTED_KEYS": "@" + bad}, nil, "EVENT_TRUSTED_KEYS", false},
		{"TLS cert missing", []string{"--dev"}, map[string]string{"TLS_CERT": filepath.Join(dir, "c.pem"), "TLS_KEY": filepath.Join(dir, "k.pem")}, nil, "TLS_CERT", false},
		{"partial cluster TLS", []string{"--dev"}, map[string]string{"CLUSTER_LISTEN": "127.0.0.1:7001", "CLUSTER_TLS_CA": bad}, nil, "CLUSTER_TLS_CERT", false},
		{"cluster port 0", []string{"--dev"}, map[string]string{"CLUSTER_LISTEN": "127.0.0.1:0"}, nil, "CLUSTER_LISTEN", false},
		{"required variable", nil, map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0"}, []LoadOption{WithoutServerSecrets(), Require("REDIS_URL", "KAFKA_BOOTSTRAP")}, "KAFKA_BOOTSTRAP", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("revocd", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			_, err := Load(fs, tc.args, func(k string) string { return tc.env[k] }, tc.opts...)
			var ce *Error
			if !errors.As(err, &ce) || ce.Var != tc.wantVar || !strings.Contains(err.Error(), tc.wantVar) || !IsConfig(err) {
				t.Fatalf("err = %v (%#v), want a config.Error about %s", err, ce, tc.wantVar)
			}
			if errors.Is(err, ErrInsecure) != tc.insecure || errors.Is(err, ErrInvalid) == tc.insecure {
				t.Fatalf("err = %v: insecure=%v, want %v", err, errors.Is(err, ErrInsecure), tc.insecure)
			}
		})
	}
}

// TestClusterPeersSkipThisNode: CLUSTER_PEERS may be one value for every
// node; each node drops its own entry (by NODE_ID).
func TestClusterPeersSkipThisNode(t *testing.T) {
	c, err := load(t, []string{"--dev"}, map[string]string{
		"NODE_ID": "b", "CLUSTER_LISTEN": "127.0.0.1:7002",
		"CLUSTER_PEERS": "a@127.0.0.1:7001,b@127.0.0.1:7002,c@127.0.0.1:7003",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ClusterPeers) != 2 || c.ClusterPeers[0] != (Peer{"a", "127.0.0.1:7001"}) || c.ClusterPeers[1] != (Peer{"c", "127.0.0.1:7003"}) {
		t.Fatalf("peers = %v, want a and c", c.ClusterPeers)
	}
}
