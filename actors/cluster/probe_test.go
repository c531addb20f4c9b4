package cluster

import (
	"net"
	"sync"
	"testing"
)

func TestProbeAddr(t *testing.T) {
	listen := func(t *testing.T, closeAtOnce bool) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var (
			mu    sync.Mutex
			conns []net.Conn
		)
		t.Cleanup(func() {
			ln.Close()
			mu.Lock()
			defer mu.Unlock()
			for _, c := range conns {
				c.Close()
			}
		})
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				if closeAtOnce {
					c.Close()
					continue
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
		return ln.Addr().String()
	}
	tests := []struct {
		name string
		addr func(t *testing.T) string
		ok   bool
	}{
		{"listening", func(t *testing.T) string { return listen(t, false) }, true},
		{"accepts then closes (proxy without backend)", func(t *testing.T) string { return listen(t, true) }, false},
		{"nothing listening", freeAddr, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := probeAddr(tc.addr(t), nil)
			if (err == nil) != tc.ok {
				t.Fatalf("probeAddr: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
