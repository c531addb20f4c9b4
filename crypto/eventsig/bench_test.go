package eventsig

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkSignBatch(b *testing.B) {
	s := sharedSigner(b)
	for _, n := range []int{1, 64, 512} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			events := makeEvents(n)
			b.ReportAllocs()
			for b.Loop() {
				if err := s.SignBatch(events); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	s := sharedSigner(b)
	events := signed(b, 512)
	b.Run("cached", func(b *testing.B) {
		v := trusting(b, s)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := v.Verify(events[i%len(events)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("uncached", func(b *testing.B) {
		v := newVerifier(0)
		if err := v.Trust(s.KeyID(), s.PublicKey()); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := v.Verify(events[i%len(events)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkReplayGuard measures the receive path's use: Seen, then Record
// for a fresh id.
func BenchmarkReplayGuard(b *testing.B) {
	g := NewReplayGuard(time.Minute, nil)
	ids := make([]string, 4096)
	for i := range ids {
		ids[i] = fmt.Sprintf("0190a1b2-c3d4-7e5f-8a9b-%012d", i)
	}
	i := 0
	for b.Loop() {
		if id := ids[i%len(ids)]; !g.Seen(id) {
			g.Record(id)
		}
		i++
	}
}
