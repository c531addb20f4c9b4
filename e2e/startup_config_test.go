package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConfigErrorsExit2BeforeListening: every configuration error stops
// revocd with exit code 2 (systemd's RestartPreventExitStatus=2), a message
// naming the variable, and before anything listens. The HTTP port is held
// by the test while revocd runs, so a node that tried to listen before
// refusing its configuration would fail with "address already in use" and
// exit 1 instead; a "listening" log line is a failure too.
func TestConfigErrorsExit2BeforeListening(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "missing.json")
	garbage := write("garbage.pem", "not a PEM file\n")
	badJSON := write("keys.json", "{not json")
	plainFile := write("plain", "")
	cert, key, _ := selfSigned(t)
	strong := "JWT_SECRET_KEY=" + strings.Repeat("s", 40)
	admin := "ADMIN_API_KEYS=admin-key-0123456789abcdef"
	// A database whose event key is "db-key", for the PQC_SIGNING_KEY_ID
	// mismatch; its public key is a valid EVENT_TRUSTED_KEYS entry.
	keyedDB := filepath.Join(dir, "keyed.db")
	trusted := clusterEventKey(t, keyedDB, "db-key")
	consumeEnv := []string{"KAFKA_BOOTSTRAP=127.0.0.1:1", "REDIS_URL=redis://127.0.0.1:1/0", "EVENT_TRUSTED_KEYS=" + trusted}
	without := func(env []string, name string) []string {
		var out []string
		for _, kv := range env {
			if !strings.HasPrefix(kv, name+"=") {
				out = append(out, kv)
			}
		}
		return out
	}
	existingBackup := write("existing-backup.db", "")

	tests := []struct {
		name    string
		args    []string // before the flags the test adds
		env     []string
		noDev   bool
		db      string // SQLITE_PATH; a fresh file when empty
		wantVar string
	}{
		{name: "consume without EVENT_TRUSTED_KEYS or CLUSTER_SECRET", args: []string{"consume"}, noDev: true, env: without(consumeEnv, "EVENT_TRUSTED_KEYS"), wantVar: "CLUSTER_SECRET"},
		{name: "consume with the dev CLUSTER_SECRET outside --dev", args: []string{"consume"}, noDev: true, env: append(without(consumeEnv, "EVENT_TRUSTED_KEYS"), "CLUSTER_SECRET=revocd-dev-cluster-secret-not-for-production"), wantVar: "CLUSTER_SECRET"},
		{name: "consume without REDIS_URL", args: []string{"consume"}, env: without(consumeEnv, "REDIS_URL"), wantVar: "REDIS_URL"},
		{name: "consume without KAFKA_BOOTSTRAP", args: []string{"consume"}, env: without(consumeEnv, "KAFKA_BOOTSTRAP"), wantVar: "KAFKA_BOOTSTRAP"},
		{name: "EVENT_TRUSTED_KEYS file missing", env: []string{"EVENT_TRUSTED_KEYS=@" + missing}, wantVar: "EVENT_TRUSTED_KEYS"},
		{name: "EVENT_TRUSTED_KEYS file not JSON", env: []string{"EVENT_TRUSTED_KEYS=@" + badJSON}, wantVar: "EVENT_TRUSTED_KEYS"},
		{name: "EVENT_TRUSTED_KEYS key not base64", env: []string{"EVENT_TRUSTED_KEYS=k=%%%"}, wantVar: "EVENT_TRUSTED_KEYS"},
		{name: "consume with EVENT_TRUSTED_KEYS file missing", args: []string{"consume"}, env: append(without(consumeEnv, "EVENT_TRUSTED_KEYS"), "EVENT_TRUSTED_KEYS=@"+missing), wantVar: "EVENT_TRUSTED_KEYS"},
		{name: "only CLUSTER_TLS_CERT", env: []string{"CLUSTER_LISTEN=" + clusterAddr(t), "CLUSTER_TLS_CERT=" + cert}, wantVar: "CLUSTER_TLS_KEY"},
		{name: "CLUSTER_TLS_CA missing", env: []string{"CLUSTER_LISTEN=" + clusterAddr(t), "CLUSTER_TLS_CERT=" + cert, "CLUSTER_TLS_KEY=" + key}, wantVar: "CLUSTER_TLS_CA"},
		{name: "CLUSTER_TLS_CERT unreadable", env: []string{"CLUSTER_LISTEN=" + clusterAddr(t), "CLUSTER_TLS_CERT=" + missing, "CLUSTER_TLS_KEY=" + key, "CLUSTER_TLS_CA=" + cert}, wantVar: "CLUSTER_TLS_CERT"},
		{name: "CLUSTER_TLS_CA not PEM", env: []string{"CLUSTER_LISTEN=" + clusterAddr(t), "CLUSTER_TLS_CERT=" + cert, "CLUSTER_TLS_KEY=" + key, "CLUSTER_TLS_CA=" + garbage}, wantVar: "CLUSTER_TLS_CA"},
		{name: "CLUSTER_TLS without CLUSTER_LISTEN", env: []string{"CLUSTER_TLS_CERT=" + cert, "CLUSTER_TLS_KEY=" + key, "CLUSTER_TLS_CA=" + cert}, wantVar: "CLUSTER_LISTEN"},
		{name: "CLUSTER_LISTEN port 0", env: []string{"CLUSTER_LISTEN=127.0.0.1:0"}, wantVar: "CLUSTER_LISTEN"},
		{name: "CLUSTER_PEERS without CLUSTER_LISTEN", env: []string{"CLUSTER_PEERS=b@127.0.0.1:1"}, wantVar: "CLUSTER_PEERS"},
		{name: "peer listed twice", env: []string{"NODE_ID=a", "CLUSTER_LISTEN=" + clusterAddr(t), "CLUSTER_PEERS=b@127.0.0.1:1,b@127.0.0.1:2"}, wantVar: "CLUSTER_PEERS"},
		{name: "peer at this node's address", env: func() []string {
			a := clusterAddr(t)
			return []string{"NODE_ID=a", "CLUSTER_LISTEN=" + a, "CLUSTER_PEERS=b@" + a}
		}(), wantVar: "CLUSTER_PEERS"},
		{name: "TLS_CERT file missing", env: []string{"TLS_CERT=" + missing, "TLS_KEY=" + key}, wantVar: "TLS_CERT"},
		{name: "TLS_KEY file missing", env: []string{"TLS_CERT=" + cert, "TLS_KEY=" + missing}, wantVar: "TLS_KEY"},
		{name: "TLS_CERT not PEM", env: []string{"TLS_CERT=" + garbage, "TLS_KEY=" + key}, wantVar: "TLS_CERT"},
		{name: "TLS_CERT without TLS_KEY", env: []string{"TLS_CERT=" + cert}, wantVar: "TLS_KEY"},
		{name: "seed default secret", noDev: true, env: []string{admin}, wantVar: "JWT_SECRET_KEY"},
		{name: "short secret", noDev: true, env: []string{"JWT_SECRET_KEY=short", admin}, wantVar: "JWT_SECRET_KEY"},
		{name: "no admin keys", noDev: true, env: []string{strong}, wantVar: "ADMIN_API_KEYS"},
		{name: "bad minutes", env: []string{"JWT_ACCESS_TOKEN_EXPIRE_MINUTES=abc"}, wantVar: "JWT_ACCESS_TOKEN_EXPIRE_MINUTES"},
		{name: "unknown algorithm", env: []string{"JWT_ALGORITHM=none"}, wantVar: "JWT_ALGORITHM"},
		{name: "bad REDIS_URL", env: []string{"REDIS_URL=http://x"}, wantVar: "REDIS_URL"},
		{name: "bad KAFKA_BOOTSTRAP", env: []string{"KAFKA_BOOTSTRAP=nohostport"}, wantVar: "KAFKA_BOOTSTRAP"},
		{name: "SQLITE_PATH directory cannot be created", db: filepath.Join(plainFile, "sub", "revocation.db"), wantVar: "SQLITE_PATH"},
		{name: "event-key with SQLITE_PATH directory uncreatable", args: []string{"event-key"}, db: filepath.Join(plainFile, "x", "r.db"), wantVar: "SQLITE_PATH"},
		{name: "PQC_SIGNING_KEY_ID differs from the database's", db: keyedDB, env: []string{"PQC_SIGNING_KEY_ID=other-key"}, wantVar: "PQC_SIGNING_KEY_ID"},
		{name: "backup without FILE", args: []string{"backup"}, db: keyedDB, wantVar: "FILE"},
		{name: "backup over an existing FILE", args: []string{"backup"}, db: keyedDB, env: []string{"BACKUP_FILE=" + existingBackup}, wantVar: "--force"},
		{name: "backup of a missing database", args: []string{"backup"}, db: filepath.Join(dir, "none.db"), env: []string{"BACKUP_FILE=" + filepath.Join(dir, "b.db")}, wantVar: "SQLITE_PATH"},
		{name: "unknown flag", args: []string{"--no-such-flag"}, wantVar: "no-such-flag"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			db := tc.db
			if db == "" {
				db = filepath.Join(dir, fmt.Sprintf("db%d", i), "revocation.db")
			}
			args := append([]string{}, tc.args...)
			if !tc.noDev {
				args = append(args, "--dev")
			}
			args = append(args, "--listen", ln.Addr().String(), "--sqlite-path", db)
			env := cleanEnv()
			for _, kv := range tc.env {
				if f, ok := strings.CutPrefix(kv, "BACKUP_FILE="); ok {
					args = append(args, f)
					continue
				}
				env = append(env, kv)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binPath, args...)
			cmd.Env = env
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err = cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("revocd %s: %v, want exit code 2\n%s", strings.Join(args, " "), err, out.String())
			}
			if !strings.Contains(out.String(), tc.wantVar) {
				t.Fatalf("output does not name %s:\n%s", tc.wantVar, out.String())
			}
			if strings.Contains(out.String(), "listening") {
				t.Fatalf("revocd listened before refusing its configuration:\n%s", out.String())
			}
		})
	}
}

// TestSQLitePathDirectoryCreated: the production start of the README
// (`--sqlite-path /var/lib/revocd/revocation.db` on a machine without that
// directory) creates the directory 0700 and the database files 0600
// instead of failing with "unable to open database file (14)"; an existing
// database that others may read is served with a warning.
func TestSQLitePathDirectoryCreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "lib", "revocd")
	db := filepath.Join(dir, "revocation.db")
	n := startNode(t, db, []string{"JWT_SECRET_KEY=" + strings.Repeat("p", 48), "ADMIN_API_KEYS=admin-key-0123456789abcdef"}, "--no-dev")
	for _, p := range []string{dir, db, db + "-wal", db + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	if strings.Contains(n.log.String(), "accessible to other users") {
		t.Fatalf("warned about a fresh owner-only database:\n%s", n.log.String())
	}
	n.kill()
	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	n.start()
	if !strings.Contains(n.log.String(), "level=WARN") || !strings.Contains(n.log.String(), "accessible to other users") ||
		!strings.Contains(n.log.String(), "mode=0644") {
		t.Fatalf("no warning about the 0644 database:\n%s", n.log.String())
	}
}

// TestClusterPeersMayListThisNode: one CLUSTER_PEERS value for every node
// (each node listed, itself included) starts every node, and revocations
// still propagate.
func TestClusterPeersMayListThisNode(t *testing.T) {
	addrs := map[string]string{"a": clusterAddr(t), "b": clusterAddr(t)}
	m := startMembers(t, addrs,
		memberSpec{id: "a", peers: addrs},
		memberSpec{id: "b", peers: addrs},
	)
	tok, jti := m["a"].issue("same-peers")
	m["a"].revoke("revoke_jti", jti)
	m["b"].waitRevoked(tok, "revocation from a")
}

// TestOnlineBackupAndRestore: `revocd backup FILE` taken while revocations
// are being written holds every revocation acknowledged (200) before the
// command started; restoring it (stop, copy to SQLITE_PATH without stale
// -wal/-shm, start) gives a node that opens cleanly and enforces them.
func TestOnlineBackupAndRestore(t *testing.T) {
	n := startNode(t, "", nil)
	const total = 240
	toks := make([]string, total)
	jtis := make([]string, total)
	for i := range toks {
		toks[i], jtis[i] = n.issue(fmt.Sprintf("backup-%d", i))
	}

	var mu sync.Mutex
	acked := map[int]bool{}
	next := make(chan int, total)
	for i := range total {
		next <- i
	}
	close(next)
	midway := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := n.do(http.MethodPost, "/revoke", map[string]any{"type": "revoke_jti", "value": jtis[i]})
				if r.Status != http.StatusOK {
					t.Errorf("revoke %d: %d %s", i, r.Status, r.Body)
					return
				}
				mu.Lock()
				acked[i] = true
				if len(acked) == total/3 {
					once.Do(func() { close(midway) })
				}
				mu.Unlock()
			}
		}()
	}
	<-midway
	mu.Lock()
	before := make([]int, 0, len(acked))
	for i := range acked {
		before = append(before, i)
	}
	mu.Unlock()
	backupFile := filepath.Join(t.TempDir(), "backups", "revocation-backup.db") // directory does not exist yet
	cmd := exec.Command(binPath, "backup", "--sqlite-path", n.DB, backupFile)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("revocd backup: %v\n%s", err, out)
	}
	wg.Wait()
	mu.Lock()
	afterCount := len(acked)
	mu.Unlock()
	if afterCount != total {
		t.Fatalf("only %d of %d revocations acknowledged", afterCount, total)
	}
	if fi, err := os.Stat(backupFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, %v", fi, err)
	}

	// Restore into a new node: stop, copy, no stale -wal/-shm, start.
	n.kill()
	restored := filepath.Join(t.TempDir(), "restored", "revocation.db")
	if err := os.MkdirAll(filepath.Dir(restored), 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(backupFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(restored, b, 0o600); err != nil {
		t.Fatal(err)
	}
	m := startNode(t, restored, nil)
	if strings.Contains(m.log.String(), "level=ERROR") {
		t.Fatalf("restored node logged errors:\n%s", m.log.String())
	}
	for _, i := range before {
		if v := m.validate(toks[i]); v["revoked"] != true {
			t.Fatalf("revocation %d acknowledged before the backup is not enforced after the restore: %v", i, v)
		}
	}
	// The restored node takes new revocations.
	tok, jti := m.issue("after-restore")
	m.revoke("revoke_jti", jti)
	if v := m.validate(tok); v["revoked"] != true {
		t.Fatalf("new revocation on the restored node: %v", v)
	}
}
