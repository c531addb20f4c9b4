package kafka

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// BenchmarkDeliver measures Deliver of 256-event batches (the outbox's
// delivery size, 16 keys) against a loopback kfake that acknowledges
// without storing (BlackholeProduce), so broker memory does not grow with
// b.N: format 2 (a real signed batch) and format 1 (the same batch with
// the whole ~3.3 KB Sig in every value, ~4.5 KB per event), per compression.
func BenchmarkDeliver(b *testing.B) {
	s, _ := newSigner(b)
	for _, format := range []int{1, 2} {
		for _, comp := range []string{"none", "snappy", "lz4", "zstd"} {
			b.Run(fmt.Sprintf("format%d/%s", format, comp), func(b *testing.B) {
				c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.BlackholeProduce(), kfake.SeedTopics(3, DefaultRevocationTopic, DefaultTokenTopic))
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				p := newPublisher(b, Config{Brokers: c.ListenAddrs(), Logger: quietLogger(), Compression: comp})
				batch := signed(b, s, "node-a", 256, 16)
				if format == 1 {
					for i := range batch {
						batch[i].Sig[0] = 0xff // unknown version: not split, whole Sig in the value
					}
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
				st := p.Stats()
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
				b.ReportMetric(float64(st.WireBytes)/float64(st.WireRecords), "wireB/event")
			})
		}
	}
}
