package cluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// Probe timings: the dial timeout, and how long an accepted connection
// must stay open to count (a proxy or balancer without a live backend
// accepts and closes at once).
const (
	probeTimeout = time.Second
	probeSettle  = 50 * time.Millisecond
)

// probeAddr checks that addr accepts a connection (and the TLS handshake
// when tlsCfg is set) that stays open. It blocks for up to about a second:
// the replicator runs it on a goroutine that reports back (probeDone).
func probeAddr(addr string, tlsCfg *tls.Config) error {
	d := &net.Dialer{Timeout: probeTimeout}
	var (
		conn net.Conn
		err  error
	)
	if tlsCfg != nil {
		conn, err = tls.DialWithDialer(d, "tcp", addr, tlsCfg)
	} else {
		conn, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("probe %s: %w", addr, err)
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(time.Now().Add(probeSettle)); err != nil {
		return fmt.Errorf("probe %s: %w", addr, err)
	}
	// The remoting server never speaks first: a timeout means the
	// connection is alive; EOF, a reset or a TLS alert mean it is not.
	var b [1]byte
	if _, err := conn.Read(b[:]); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("probe %s: connection closed by peer: %w", addr, err)
	}
	return nil
}
