package redisserver

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// readyTimeout bounds how long Start and Restart poll PING.
	readyTimeout = 10 * time.Second
	// stopTimeout bounds how long Stop waits after SIGTERM before SIGKILL.
	stopTimeout = 10 * time.Second
	// portAttempts is how many free ports Start tries when bind races.
	portAttempts = 5
)

// NotFoundMessage is the failure message used when redis-server is missing.
const NotFoundMessage = "redis-server not found: install it with `apt-get install -y redis-server`"

// Option customises a Server started by Start.
type Option func(*config)

type config struct {
	binary string
	args   []string
}

// WithArgs appends extra redis-server command-line arguments (for example
// "--maxmemory", "10mb"). Later arguments override the defaults.
func WithArgs(args ...string) Option {
	return func(c *config) { c.args = append(c.args, args...) }
}

// WithBinary overrides the redis-server executable looked up in PATH.
func WithBinary(path string) Option {
	return func(c *config) { c.binary = path }
}

// Server is a redis-server child process owned by one test.
//
// Addr and URL are safe for concurrent use. Stop and Restart serialise on an
// internal mutex; Restart calls t.Fatalf on failure, so call it from the test
// goroutine.
type Server struct {
	tb   testing.TB
	cfg  config
	dir  string
	port int

	mu   sync.Mutex
	proc *process // nil while stopped
}

// Start starts redis-server on a free loopback port with its data dir in
// t.TempDir(), waits until PING answers, and stops it in t.Cleanup.
//
// If redis-server is not installed it calls t.Fatalf with NotFoundMessage
// (never t.Skip). Start must be called from the test goroutine.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := config{binary: "redis-server"}
	for _, o := range opts {
		o(&cfg)
	}
	bin, err := exec.LookPath(cfg.binary)
	if err != nil {
		t.Fatalf("%s", NotFoundMessage)
	}
	cfg.binary = bin
	s := &Server{tb: t, cfg: cfg, dir: t.TempDir()}
	// Registered after TempDir, so it runs before the directory is removed.
	t.Cleanup(s.Stop)

	var lastErr error
	for range portAttempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redisserver: pick port: %v", err)
		}
		s.port = port
		p, err := s.launch()
		if err == nil {
			s.mu.Lock()
			s.proc = p
			s.mu.Unlock()
			return s
		}
		lastErr = err
		if !errors.Is(err, errBind) {
			break
		}
	}
	t.Fatalf("redisserver: start: %v", lastErr)
	return nil
}

// Addr returns the server's "127.0.0.1:port" address. It stays the same
// across Stop and Restart.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// URL returns the server's address as "redis://127.0.0.1:port/0", the form
// accepted by redis.ParseURL and the REDIS_URL setting.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Stop stops the process (SIGTERM, which makes Redis flush its append-only
// file; SIGKILL if it has not exited within a bound). Clients see Redis as
// down until Restart. Stop is idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	s.proc.stop(stopTimeout)
	s.proc = nil
}

// Restart starts redis-server again on the same port with the same data
// dir and waits for PING. Data written before Stop survives (appendonly).
// Restart on a running server stops it first. It calls t.Fatalf on failure.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	var lastErr error
	// The port was ours a moment ago; a bind failure here means it is briefly
	// unavailable, so retry a few times before giving up.
	for range portAttempts {
		p, err := s.launch()
		if err == nil {
			s.proc = p
			return
		}
		lastErr = err
		if !errors.Is(err, errBind) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.tb.Fatalf("redisserver: restart on %s: %v", s.Addr(), lastErr)
}

// Dir returns the server's data directory (inside t.TempDir()).
func (s *Server) Dir() string { return s.dir }

func (s *Server) args() []string {
	a := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "yes",
		"--dir", s.dir,
		"--daemonize", "no",
	}
	return append(a, s.cfg.args...)
}

var errBind = errors.New("address in use")

// launch starts the process and waits until it answers PING.
func (s *Server) launch() (*process, error) {
	p, err := startProcess(s.cfg.binary, s.args())
	if err != nil {
		return nil, err
	}
	if err := waitReady(s.Addr(), p, readyTimeout); err != nil {
		p.stop(stopTimeout)
		out := p.output()
		if strings.Contains(out, "Address already in use") || strings.Contains(out, "Could not create server TCP listening socket") {
			return nil, fmt.Errorf("%w: %v\n%s", errBind, err, out)
		}
		return nil, fmt.Errorf("%v\nredis-server output:\n%s", err, out)
	}
	return p, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// process is one running redis-server.
type process struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed when the process has exited
}

func startProcess(bin string, args []string) (*process, error) {
	cmd := exec.Command(bin, args...)
	out := &lockedBuffer{}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec %s: %w", bin, err)
	}
	p := &process{cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) stop(timeout time.Duration) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) output() string { return p.out.String() }

// lockedBuffer collects process output; os/exec writes from its own goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
