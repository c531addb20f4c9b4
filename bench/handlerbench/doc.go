// Package handlerbench holds in-process Go benchmarks of revocd's HTTP
// handlers (transport/httpapi) for CPU and allocation profiles: the
// handler called directly on a reused fasthttp.RequestCtx, and the whole
// fasthttp server over an in-memory listener next to a fixed-body handler
// (the ceiling). Run with
//
//	go test -run '^$' -bench . -benchmem -cpuprofile cpu.out ./bench/handlerbench/
package handlerbench
