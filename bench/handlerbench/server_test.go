package handlerbench

import (
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// serveInmemory serves h with revocd's server settings on an in-memory
// listener and returns a client bound to it.
func serveInmemory(b *testing.B, h fasthttp.RequestHandler) *fasthttp.HostClient {
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: h, Name: "revocd", ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
		IdleTimeout: 60 * time.Second, ReadBufferSize: 8 << 10}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	b.Cleanup(func() { _ = srv.Shutdown() })
	return &fasthttp.HostClient{Addr: "inmemory", Dial: func(string) (net.Conn, error) { return ln.Dial() },
		MaxConns: 64, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
}

// driveParallel POSTs body with b.RunParallel (GOMAXPROCS goroutines,
// times -cpu) and fails on any non-200.
func driveParallel(b *testing.B, c *fasthttp.HostClient, path string, body []byte) {
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod("POST")
		req.SetRequestURI("http://inmemory" + path)
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
		for pb.Next() {
			if err := c.Do(req, resp); err != nil {
				b.Error(err)
				return
			}
			if resp.StatusCode() != 200 {
				b.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
				return
			}
		}
	})
}

// BenchmarkServerValidate is the full fasthttp stack (client, HTTP
// parsing, server) plus the validate handler, in memory.
func BenchmarkServerValidate(b *testing.B) {
	f := newFixture(b, 100_000)
	driveParallel(b, serveInmemory(b, f.handler), "/token/validate", validateBody(f.tokens[0]))
}

// BenchmarkServerCeiling is the same stack with a fixed-body handler: the
// in-process ceiling BenchmarkServerValidate is compared with.
func BenchmarkServerCeiling(b *testing.B) {
	f := newFixture(b, 0)
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI("/token/validate")
	req.SetBody(validateBody(f.tokens[0]))
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	f.handler(&ctx)
	fixed := append([]byte(nil), ctx.Response.Body()...)
	h := func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(fixed)
	}
	driveParallel(b, serveInmemory(b, h), "/token/validate", validateBody(f.tokens[0]))
}
