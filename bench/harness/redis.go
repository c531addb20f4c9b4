package harness

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a redis-server child process without persistence.
type redisServer struct {
	*Process
	Addr string
}

// URL returns the REDIS_URL of the server.
func (r *redisServer) URL() string { return "redis://" + r.Addr + "/0" }

// startRedis starts redis-server on a free loopback port with its working
// directory in dir and waits until PING answers.
func startRedis(ctx context.Context, dir string) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found (apt-get install -y redis-server): %w", err)
	}
	var lastErr error
	for range 3 { // a free port may be taken between freeAddr and bind
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		_, port, _ := net.SplitHostPort(addr)
		p, err := startProcess("redis-server", bin, []string{
			"--port", port, "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no",
			"--protected-mode", "no", "--loglevel", "warning",
		}, nil)
		if err != nil {
			return nil, err
		}
		s := &redisServer{Process: p, Addr: addr}
		if lastErr = s.waitPing(ctx); lastErr == nil {
			return s, nil
		}
		p.Stop()
		if !strings.Contains(p.Output(), "Address already in use") {
			break
		}
	}
	return nil, lastErr
}

func (r *redisServer) waitPing(ctx context.Context) error {
	c := redis.NewClient(&redis.Options{Addr: r.Addr, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if r.Exited() {
			return fmt.Errorf("redis-server exited:\n%s", tail(r.Output(), 2000))
		}
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s did not answer PING within 10s:\n%s", r.Addr, tail(r.Output(), 2000))
}
