package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/revocd/revocd/internal/testutil/redisserver"
)

// BenchmarkDurableRevocationsFullStack measures durable revocations per
// second over HTTP with the Redis mirror and the Kafka bridge on (real
// redis-server, kfake over TCP), 64 concurrent clients:
//
//	go test -run '^$' -bench DurableRevocationsFullStack -benchtime 20000x ./e2e/
func BenchmarkDurableRevocationsFullStack(b *testing.B) {
	rs := redisserver.Start(b)
	kf := startKafkaTB(b)
	n := startNode(b, "", []string{"REDIS_URL=" + rs.URL(), "KAFKA_BOOTSTRAP=" + kf, "PUBLISH_WAIT_MS=0", "LOG_LEVEL=warn"})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var next, failed atomic.Int64
	const workers = 64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				body := fmt.Sprintf(`{"type":"revoke_jti","value":"bench-%d","ttl_seconds":600}`, i)
				resp, err := client.Post(n.URL+"/revoke", "application/json", bytes.NewBufferString(body))
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d revocations failed", failed.Load())
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "revocations/s")
}
