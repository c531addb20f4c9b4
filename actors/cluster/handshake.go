package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
)

// handshakeListener is the receiver's TLS listener: like tls.Listen, but
// each connection's handshake (which verifies the client certificate) runs
// on the connection's own goroutine before its first read or write, within
// invokeTimeout, and a failed one is refused through the receiver's hook
// (rejectTLSHandshake) instead of vanishing in drpc's connection error.
// A connection closed before it sent anything is not counted (a port
// check). Safe for concurrent use.
type handshakeListener struct {
	net.Listener
	tls  *tls.Config
	recv *receiver
}

// Accept implements net.Listener.
func (l *handshakeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &handshakeConn{Conn: tls.Server(c, l.tls), recv: l.recv}, nil
}

// handshakeConn completes the TLS handshake before its first read or
// write.
type handshakeConn struct {
	*tls.Conn
	recv *receiver
	once sync.Once
	err  error
}

func (c *handshakeConn) handshake() {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), invokeTimeout)
		defer cancel()
		c.err = c.Conn.HandshakeContext(ctx)
		if c.err != nil && !errors.Is(c.err, io.EOF) {
			c.recv.refuse(rejectTLSHandshake, c.RemoteAddr().String(), 0, c.err)
		}
	})
}

// Read implements net.Conn.
func (c *handshakeConn) Read(b []byte) (int, error) {
	if c.handshake(); c.err != nil {
		return 0, c.err
	}
	return c.Conn.Read(b)
}

// Write implements net.Conn.
func (c *handshakeConn) Write(b []byte) (int, error) {
	if c.handshake(); c.err != nil {
		return 0, c.err
	}
	return c.Conn.Write(b)
}
