package harness

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/valyala/fasthttp"
)

// NodeSpec describes one revocd process to start.
type NodeSpec struct {
	Name string
	// DB is the SQLite file; empty means a fresh file in Dir.
	DB  string
	Dir string
	// Env is added to the cleaned environment (after LogLevel).
	Env []string
	// LogLevel is LOG_LEVEL (default warn: logging is not what we measure).
	LogLevel string
}

// Node is a running revocd.
type Node struct {
	*Process
	Addr string
	URL  string
	DB   string
	// ReadyAfter is the time from exec to the first /ready 200.
	ReadyAfter time.Duration
}

// spawnNode starts revocd in --dev mode without waiting for readiness.
func (r *runner) spawnNode(spec NodeSpec) (*Node, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	db := spec.DB
	if db == "" {
		db = filepath.Join(spec.Dir, spec.Name+".db")
	}
	lvl := spec.LogLevel
	if lvl == "" {
		lvl = "warn"
	}
	env := append(cleanEnv(), "LOG_LEVEL="+lvl)
	env = append(env, r.opts.ExtraEnv...)
	env = append(env, spec.Env...)
	p, err := startProcess("revocd "+spec.Name, r.bins.revocd, []string{"--dev", "--listen", addr, "--sqlite-path", db}, env)
	if err != nil {
		return nil, err
	}
	return &Node{Process: p, Addr: addr, URL: "http://" + addr, DB: db}, nil
}

// startNode starts revocd and waits until /ready answers 200.
func (r *runner) startNode(ctx context.Context, spec NodeSpec, timeout time.Duration) (*Node, error) {
	n, err := r.spawnNode(spec)
	if err != nil {
		return nil, err
	}
	if err := n.waitReady(ctx, timeout); err != nil {
		n.Stop()
		return nil, err
	}
	return n, nil
}

// waitReady polls GET /ready every 5 ms until it answers 200 and records
// ReadyAfter.
func (n *Node) waitReady(ctx context.Context, timeout time.Duration) error {
	c := &fasthttp.Client{ReadTimeout: time.Second, WriteTimeout: time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n.Exited() {
			return fmt.Errorf("%s exited during start-up:\n%s", n.Name, tail(n.Output(), 3000))
		}
		status, _, err := c.Get(nil, n.URL+"/ready")
		if err == nil && status == fasthttp.StatusOK {
			n.ReadyAfter = time.Since(n.Started)
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %v:\n%s", n.Name, timeout, tail(n.Output(), 3000))
}
