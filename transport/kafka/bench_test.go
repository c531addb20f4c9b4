package kafka

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/revocd/revocd/revocation"
)

// BenchmarkDeliver measures Deliver of 256-event batches (16 keys, ~4.5 KB
// per event with an ML-DSA-65 sized signature) against a loopback kfake
// that acknowledges without storing (BlackholeProduce), so broker memory
// does not grow with b.N.
func BenchmarkDeliver(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.BlackholeProduce(), kfake.SeedTopics(3, DefaultRevocationTopic, DefaultTokenTopic))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	p := newPublisher(b, Config{Brokers: c.ListenAddrs(), Logger: quietLogger()})
	const size = 256
	batch := make([]revocation.Event, size)
	for i := range batch {
		batch[i] = testEvent(i%16, i)
		batch[i].Sig = make([]byte, 3309)
	}
	ctx := context.Background()
	if err := p.Deliver(ctx, batch); err != nil { // connect and load metadata
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		for i := range batch {
			batch[i].EventID = fmt.Sprint(n)
			n++
		}
		if err := p.Deliver(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
