package redisserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// waitReady polls addr until it answers PING with +PONG and INFO names our
// process, the process exits, or the deadline passes. Redis answers -LOADING
// while replaying its append-only file, so only +PONG counts as ready; the
// process_id check makes sure a port stolen by another server is not
// mistaken for ours.
func waitReady(addr string, p *process, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	lastErr := errors.New("no attempt")
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("redis-server exited before answering PING (last: %v)", lastErr)
		}
		if lastErr = probe(addr, p.cmd.Process.Pid); lastErr == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s not ready after %v: %v", addr, timeout, lastErr)
}

// probe sends PING and INFO server on one connection and checks the answers.
func probe(addr string, pid int) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "PING\r\nINFO server\r\n"); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if line = strings.TrimSpace(line); line != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	info, err := readBulk(r)
	if err != nil {
		return fmt.Errorf("INFO: %w", err)
	}
	want := "process_id:" + strconv.Itoa(pid)
	for l := range strings.Lines(info) {
		if strings.TrimSpace(l) == want {
			return nil
		}
	}
	return fmt.Errorf("port answered by another server (want %s)", want)
}

// readBulk reads one RESP bulk string reply.
func readBulk(r *bufio.Reader) (string, error) {
	head, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	head = strings.TrimSpace(head)
	if !strings.HasPrefix(head, "$") {
		return "", fmt.Errorf("unexpected reply %q", head)
	}
	n, err := strconv.Atoi(head[1:])
	if err != nil || n < 0 {
		return "", fmt.Errorf("bad bulk length %q", head)
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
