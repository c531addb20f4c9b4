package handlerbench

import (
	"bytes"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// call runs the handler on a reused RequestCtx holding a POST of body.
// It reports and returns the CPU nanoseconds per call.
func call(b *testing.B, h fasthttp.RequestHandler, path string, body []byte, want []byte) float64 {
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI(path)
	req.Header.SetContentType("application/json")
	req.SetBody(body)
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	h(&ctx)
	if ctx.Response.StatusCode() != 200 || !bytes.Contains(ctx.Response.Body(), want) {
		b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for b.Loop() {
		ctx.Response.Reset()
		h(&ctx)
	}
	cpu := float64((cpuTime() - c0).Nanoseconds()) / float64(b.N)
	b.ReportMetric(cpu, "cpu-ns/op")
	return cpu
}

// cpuTime is this process's user+system CPU time: on a shared machine
// cpu-ns/op is steadier than ns/op (wall time).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkValidateHandler is POST /token/validate of a valid token,
// handler only (routing, request id, metrics, decode, verify, index check,
// encode).
func BenchmarkValidateHandler(b *testing.B) {
	f := newFixture(b, 100_000)
	call(b, f.handler, "/token/validate", validateBody(f.tokens[0]), []byte(`"valid":true`))
}

// BenchmarkValidateHandlerRevoked is the same for a token revoked by jti.
func BenchmarkValidateHandlerRevoked(b *testing.B) {
	f := newFixture(b, 100_000)
	call(b, f.handler, "/token/validate", validateBody(f.revoked[0]), []byte(`"revoked":true`))
}

// BenchmarkBatchHandler is POST /token/validate/batch; ns/op divided by
// the batch size is the per-token cost.
func BenchmarkBatchHandler(b *testing.B) {
	f := newFixture(b, 100_000)
	for _, n := range []int{100, 1000} {
		b.Run("n="+itoa(n), func(b *testing.B) {
			cpu := call(b, f.handler, "/token/validate/batch", f.batchBody(n), []byte(`"valid":true`))
			b.ReportMetric(cpu/float64(n), "cpu-ns/token")
		})
	}
}

func itoa(n int) string {
	return string(fasthttp.AppendUint(nil, n))
}
