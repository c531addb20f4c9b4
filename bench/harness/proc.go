package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a child process started by the harness (revocd, redis-server
// or a reference server). The last 64 KiB of its output are kept for
// diagnostics. Its methods are safe for concurrent use.
type Process struct {
	Name    string
	Started time.Time

	cmd  *exec.Cmd
	out  *tailBuffer
	done chan struct{}
}

// startProcess starts bin with args and env (nil env: the harness's own,
// cleaned of revocd's variables). The child is killed if the harness dies.
func startProcess(name, bin string, args, env []string) (*Process, error) {
	cmd := exec.Command(bin, args...)
	if env == nil {
		env = cleanEnv()
	}
	cmd.Env = env
	p := &Process{Name: name, cmd: cmd, out: &tailBuffer{max: 64 << 10}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Output returns the tail of the process's stdout and stderr.
func (p *Process) Output() string { return p.out.String() }

// Stop sends SIGTERM, waits up to 10 s, then SIGKILLs. Idempotent.
func (p *Process) Stop() {
	if p == nil || p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// RSS returns the resident set size (VmRSS) of the process in bytes.
func (p *Process) RSS() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.PID()))
	if err != nil {
		return 0, fmt.Errorf("rss of %s: %w", p.Name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				break
			}
			kb, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("rss of %s: %w", p.Name, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("rss of %s: no VmRSS line", p.Name)
}

// waitLine waits until the process printed a line starting with prefix and
// returns the rest of that line.
func (p *Process) waitLine(ctx context.Context, prefix string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, line := range strings.Split(p.Output(), "\n") {
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				return strings.TrimSpace(rest), nil
			}
		}
		if p.Exited() {
			return "", fmt.Errorf("%s exited:\n%s", p.Name, tail(p.Output(), 2000))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "", fmt.Errorf("%s: no %q line within %v:\n%s", p.Name, prefix, timeout, tail(p.Output(), 2000))
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.Clone(t.b))
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// cleanEnv is the environment without revocd's variables, so a developer's
// shell settings cannot change what is measured.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "JWT_"), strings.HasPrefix(k, "KAFKA_"), strings.HasPrefix(k, "REDIS_"),
			strings.HasPrefix(k, "CLUSTER_"), strings.HasPrefix(k, "EVENT_"), strings.HasPrefix(k, "PQC_"),
			k == "ADMIN_API_KEYS", k == "SQLITE_PATH", k == "LISTEN_ADDR", k == "NODE_ID", k == "LOG_LEVEL",
			k == "RATE_LIMIT_PER_SECOND":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// errNotAvailable marks a scenario that cannot run against this build (for
// example the cluster layer is not there yet): reported, not a failure.
var errNotAvailable = errors.New("not available")
