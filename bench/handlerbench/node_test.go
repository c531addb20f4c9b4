package handlerbench

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/config"
	"github.com/revocd/revocd/server"
)

// startNode runs a whole dev-mode node in this process (server.Run) on a
// loopback port and returns its address; it stops with the benchmark.
func startNode(b *testing.B) string {
	cfg, err := config.Load(flag.NewFlagSet("bench", flag.ContinueOnError),
		[]string{"--dev", "--listen", "127.0.0.1:0", "--sqlite-path", filepath.Join(b.TempDir(), "r.db")},
		func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), func(a string) { addrc <- a })
	}()
	b.Cleanup(func() { cancel(); <-done })
	select {
	case a := <-addrc:
		return a
	case err := <-done:
		b.Fatalf("node: %v", err)
	case <-time.After(30 * time.Second):
		b.Fatal("node not ready within 30s")
	}
	return ""
}

// BenchmarkNodeRevoke is durable POST /revoke against a whole in-process
// node with 16×GOMAXPROCS concurrent clients: profile it to see the
// revocation path (actors, group commit, event signing, SQLite).
func BenchmarkNodeRevoke(b *testing.B) {
	addr := startNode(b)
	c := &fasthttp.HostClient{Addr: addr, MaxConns: 256, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	var seq atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(64)
	c0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod("POST")
		req.SetRequestURI("http://" + addr + "/revoke")
		req.Header.SetContentType("application/json")
		for pb.Next() {
			n := seq.Add(1)
			req.SetBody(fmt.Appendf(nil, `{"type":"revoke_jti","value":"c0c0c0c0-0000-4000-8000-%012x"}`, n))
			if err := c.Do(req, resp); err != nil || resp.StatusCode() != 200 {
				b.Errorf("revoke: %v %d %s", err, resp.StatusCode(), resp.Body())
				return
			}
		}
	})
	b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "revocations/s")
}

// BenchmarkNodeValidate is POST /token/validate of a valid token against
// a whole in-process node over loopback TCP; in the CPU profile the
// server's share is under fasthttp.(*Server).serveConn.
func BenchmarkNodeValidate(b *testing.B) {
	addr := startNode(b)
	c := &fasthttp.HostClient{Addr: addr, MaxConns: 64, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.Header.SetMethod("POST")
	req.SetRequestURI("http://" + addr + "/token")
	req.Header.SetContentType("application/json")
	req.SetBodyString(`{"subject":"bench"}`)
	if err := c.Do(req, resp); err != nil || resp.StatusCode() != 200 {
		b.Fatalf("issue: %v %s", err, resp.Body())
	}
	body := resp.Body()
	i := bytes.Index(body, []byte(`"access_token":"`))
	tok := body[i+len(`"access_token":"`):]
	tok = tok[:bytes.IndexByte(tok, '"')]
	vbody := validateBody(string(tok))
	fasthttp.ReleaseRequest(req)
	fasthttp.ReleaseResponse(resp)

	b.ReportAllocs()
	b.SetParallelism(16)
	c0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod("POST")
		req.SetRequestURI("http://" + addr + "/token/validate")
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(vbody)
		for pb.Next() {
			if err := c.Do(req, resp); err != nil || !bytes.Contains(resp.Body(), []byte(`"valid":true`)) {
				b.Errorf("validate: %v %s", err, resp.Body())
				return
			}
		}
	})
	b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
