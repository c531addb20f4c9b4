// Package e2e holds end-to-end tests: they build the real revocd binary,
// start it on free loopback ports and drive it over HTTP.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "revocd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "revocd")
	build := exec.Command("go", "build", "-o", binPath, "../cmd/revocd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build revocd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// node is one running revocd process.
type node struct {
	t    testing.TB
	URL  string
	Addr string
	DB   string
	args []string
	env  []string
	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan struct{}
	// client is the HTTP client (https with the test CA when TLS is on).
	client *http.Client
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		// The kernel may offer a port again as soon as it is closed: a
		// test that picks a node's HTTP port and, before that node binds
		// it, another node's cluster port, must not get the same one.
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
	t.Fatal("no port not handed out before within 100 tries")
	return 0
}

// handedOut are the ports freePort returned in this test process.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// startNode starts revocd in dev mode with a fresh SQLite file (or db, when
// given) and extra flags and environment.
func startNode(t testing.TB, db string, env []string, args ...string) *node {
	t.Helper()
	return startNodeWith(t, nil, db, env, args...)
}

// startNodeWith is startNode with a custom HTTP client (e.g. trusting a
// test CA for TLS).
func startNodeWith(t testing.TB, client *http.Client, db string, env []string, args ...string) *node {
	t.Helper()
	if db == "" {
		db = filepath.Join(t.TempDir(), "revocation.db")
	}
	n := &node{t: t, DB: db, args: args, env: env, client: client}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *node) start() {
	n.t.Helper()
	n.Addr = fmt.Sprintf("127.0.0.1:%d", freePort(n.t))
	n.URL = "http://" + n.Addr
	if n.client == nil {
		n.client = http.DefaultClient
	}
	for _, kv := range n.env {
		if strings.HasPrefix(kv, "TLS_CERT=") {
			n.URL = "https://" + n.Addr
		}
	}
	args := append([]string{"--listen", n.Addr, "--sqlite-path", n.DB}, n.args...)
	if !containsArg(n.args, "--no-dev") {
		args = append([]string{"--dev"}, args...)
	} else {
		args = removeArg(args, "--no-dev")
	}
	n.cmd = exec.Command(binPath, args...)
	n.cmd.Env = append(append(os.Environ(), "LOG_LEVEL=debug"), n.env...)
	n.log = &lockedBuffer{}
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		n.t.Fatalf("start revocd: %v", err)
	}
	n.done = make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(n.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-n.done:
			n.t.Fatalf("revocd exited during start-up:\n%s", n.log.String())
		default:
		}
		resp, err := n.client.Get(n.URL + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.t.Fatalf("revocd not ready within 20s:\n%s", n.log.String())
}

// kill sends SIGKILL and waits for the process to be gone.
func (n *node) kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
	n.cmd = nil
}

// terminate sends SIGTERM and returns the exit error after the process ends.
func (n *node) terminate(timeout time.Duration) error {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(timeout):
		n.kill()
		return fmt.Errorf("revocd did not exit within %v", timeout)
	}
	err := n.cmd.ProcessState.ExitCode()
	n.cmd = nil
	if err != 0 {
		return fmt.Errorf("exit code %d", err)
	}
	return nil
}

func (n *node) restart() {
	n.kill()
	n.start()
}

func (n *node) stop() {
	n.kill()
	if n.t.Failed() {
		n.t.Logf("revocd log (%s):\n%s", n.Addr, tail(n.log.String(), 4000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func containsArg(args []string, a string) bool {
	for _, x := range args {
		if x == a {
			return true
		}
	}
	return false
}

func removeArg(args []string, a string) []string {
	var out []string
	for _, x := range args {
		if x != a {
			out = append(out, x)
		}
	}
	return out
}

// response is a decoded HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object (%d): %q", r.Status, r.Body)
	}
	return m
}

// do sends a request; body may be a string, []byte or anything JSON-encodable.
func (n *node) do(method, path string, body any, headers ...string) response {
	n.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			n.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, n.URL+path, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := n.client.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// post sends JSON and requires want status, returning the decoded object.
func (n *node) post(path string, body any, want int) map[string]any {
	n.t.Helper()
	r := n.do(http.MethodPost, path, body)
	if r.Status != want {
		n.t.Fatalf("POST %s: status %d, want %d: %s", path, r.Status, want, r.Body)
	}
	return r.JSON(n.t)
}

// issue creates an access token and returns (token, jti).
func (n *node) issue(subject string) (string, string) {
	n.t.Helper()
	m := n.post("/token", map[string]any{"subject": subject}, 200)
	return m["access_token"].(string), m["jti"].(string)
}

// validate returns the /token/validate answer.
func (n *node) validate(tok string) map[string]any {
	n.t.Helper()
	return n.post("/token/validate", map[string]any{"token": tok, "check_revocation": true}, 200)
}

func (n *node) revoke(typ, value string) map[string]any {
	n.t.Helper()
	return n.post("/revoke", map[string]any{"type": typ, "value": value}, 200)
}

// keys returns the sorted keys of m.
func keys(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ",")
}

// cleanEnv is the environment without revocd's variables, so a developer's
// shell settings cannot change a test's outcome.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "JWT_"), strings.HasPrefix(k, "KAFKA_"), strings.HasPrefix(k, "REDIS_"),
			k == "ADMIN_API_KEYS", k == "SQLITE_PATH", k == "LISTEN_ADDR":
			continue
		}
		out = append(out, kv)
	}
	return out
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
