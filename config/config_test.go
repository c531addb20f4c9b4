package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, args []string, env map[string]string) (*Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("revocd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return Load(fs, args, func(k string) string { return env[k] })
}

func TestDefaultsInDevMode(t *testing.T) {
	c, err := load(t, []string{"--dev"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenAddr != "127.0.0.1:8000" || c.SQLitePath != "./revocation.db" || c.KafkaTopic != "revocations" ||
		c.RefreshTokenTopic != "token-events" || c.AccessTTL != 30*time.Minute || c.RefreshTTL != 90*24*time.Hour ||
		c.JWTIssuer != "p4-revocation-service" || c.PQCSigningKeyID != "p4-dilithium-key-1" || c.NonceTTL != 180*time.Second ||
		c.RedisURL != "" || c.KafkaBootstrap != "" || c.JWTAlgorithm != "HS256" || c.MaxBodyBytes != 1<<20 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, ".env")
	if err := os.WriteFile(envFile, []byte("# comment\nexport SQLITE_PATH=\"/from/file.db\"\nJWT_ISSUER=file\nJWT_ALGORITHM='EdDSA'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, []string{"--dev", "--env-file", envFile, "--jwt-issuer", "flag", "--listen", "127.0.0.1:9"},
		map[string]string{"JWT_ISSUER": "env", "SQLITE_PATH": "/from/env.db"})
	if err != nil {
		t.Fatal(err)
	}
	if c.JWTIssuer != "flag" || c.SQLitePath != "/from/env.db" || c.JWTAlgorithm != "EdDSA" || c.ListenAddr != "127.0.0.1:9" {
		t.Fatalf("precedence broken: issuer=%q path=%q alg=%q listen=%q", c.JWTIssuer, c.SQLitePath, c.JWTAlgorithm, c.ListenAddr)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	tests := []struct {
		env, value string
	}{
		{"JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "thirty"},
		{"JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "-5"},
		{"JWT_REFRESH_TOKEN_EXPIRE_DAYS", "0"},
		{"JWT_ALGORITHM", "none"},
		{"JWT_ALGORITHM", "RS256"},
		{"REDIS_URL", "not a url"},
		{"REDIS_URL", "http://localhost"},
		{"KAFKA_BOOTSTRAP", "localhost"},
		{"LISTEN_ADDR", "8000"},
		{"NONCE_TTL_SECONDS", "x"},
		{"CLUSTER_PEERS", "nohost"},
		{"LOG_FORMAT", "xml"},
	}
	for _, tc := range tests {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			_, err := load(t, []string{"--dev"}, map[string]string{tc.env: tc.value})
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.env) {
				t.Fatalf("err = %v, want ErrInvalid naming %s", err, tc.env)
			}
		})
	}
}

func TestProductionRefusals(t *testing.T) {
	strong := strings.Repeat("s", 40)
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
	}{
		{"seed default secret", map[string]string{"ADMIN_API_KEYS": "admin-key-0123456789"}, "JWT_SECRET_KEY"},
		{"short secret", map[string]string{"JWT_SECRET_KEY": "short", "ADMIN_API_KEYS": "admin-key-0123456789"}, "JWT_SECRET_KEY"},
		{"no admin keys", map[string]string{"JWT_SECRET_KEY": strong}, "ADMIN_API_KEYS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, nil, tc.env)
			if !errors.Is(err, ErrInsecure) || !strings.Contains(err.Error(), tc.wantVar) {
				t.Fatalf("err = %v, want ErrInsecure naming %s", err, tc.wantVar)
			}
		})
	}
	c, err := load(t, nil, map[string]string{"JWT_SECRET_KEY": strong, "ADMIN_API_KEYS": "admin-key-0123456789, second-key-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.AdminAPIKeys) != 2 {
		t.Fatalf("admin keys = %v", c.AdminAPIKeys)
	}
}

func TestEveryVariableHasAFlag(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range Variables() {
		if !strings.HasPrefix(v.Flag, "--") || seen[v.Flag] || v.Usage == "" {
			t.Fatalf("bad variable %+v", v)
		}
		seen[v.Flag] = true
	}
	for _, seed := range []string{"KAFKA_BOOTSTRAP", "KAFKA_TOPIC", "REFRESH_TOKEN_TOPIC", "REDIS_URL", "SQLITE_PATH", "JWT_SECRET_KEY",
		"JWT_ALGORITHM", "JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "JWT_REFRESH_TOKEN_EXPIRE_DAYS", "JWT_ISSUER", "PQC_SIGNING_KEY_ID", "NONCE_TTL_SECONDS"} {
		if !seen["--"+strings.ReplaceAll(strings.ToLower(seed), "_", "-")] {
			t.Errorf("seed variable %s has no flag", seed)
		}
	}
}

func TestToolModesNeedNoServerSecrets(t *testing.T) {
	fs := flag.NewFlagSet("revocd consume", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, err := Load(fs, nil, func(string) string { return "" }, WithoutServerSecrets()); err != nil {
		t.Fatalf("consume mode refused without server secrets: %v", err)
	}
}
