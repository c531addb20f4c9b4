package kafka

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/revocation"
)

// TestNodeKeyHeader: a Publisher with an Announcement puts it on the record
// carrying each batch signature, and a Consumer hands it, with the record's
// origin, to OnAnnouncement before the batch's events reach the handler.
func TestNodeKeyHeader(t *testing.T) {
	_, cfg := newCluster(t, 2)
	signer, err := eventsig.NewSigner("k1", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	events := make([]revocation.Event, 6)
	ptrs := make([]*revocation.Event, len(events))
	for i := range events {
		events[i] = testEvent(i, i)
		events[i].Sig = nil
		ptrs[i] = &events[i]
	}
	if err := signer.SignBatch(ptrs); err != nil {
		t.Fatal(err)
	}
	sealed := []byte("sealed-announcement-of-node-a")
	pcfg := cfg
	pcfg.Announcement = sealed
	p := newPublisher(t, pcfg)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := p.Deliver(ctx, events); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	ccfg := cfg
	ccfg.OnAnnouncement = func(origin string, b []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if !bytes.Equal(b, sealed) {
			t.Errorf("announcement %q, want %q", b, sealed)
		}
		got = append(got, origin)
		return nil
	}
	rc := startConsumer(t, ccfg, func(e *revocation.Event) error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) == 0 {
			return fmt.Errorf("event %s before any announcement", e.EventID)
		}
		return nil
	})
	for range events {
		rc.next(t)
	}
	rc.stop(t)
	mu.Lock()
	defer mu.Unlock()
	// One per (batch, partition): the batch spans both partitions here.
	if len(got) == 0 || len(got) > 2 || got[0] != "node-a" {
		t.Fatalf("announcements seen with origins %q, want 1 or 2 of node-a", got)
	}
	if st := rc.c.Stats(); st.HandlerErrors != 0 {
		t.Fatalf("events delivered before their announcement: %+v", st)
	}
}

// TestSeedRecordsByMode: a seed-era unsigned record reaches a node's
// consumer's handler as an unsigned event (which a verifying handler
// refuses and counts), is skipped with SkipUnsigned, and is the only record
// an UnsignedOnly consumer hands to Unsigned.
func TestSeedRecordsByMode(t *testing.T) {
	seed := []byte(`{"event_id":"e1","type":"revoke_jti","value":"j1","ts":1700000000}`)
	signed := mustJSON(t, testEvent(0, 0))
	tests := []struct {
		name string
		mode func(*Config, chan *SeedEvent)
		// wantFirst is the first event the handler sees ("" none).
		wantFirst string
	}{
		{"default: handed on unsigned", func(*Config, chan *SeedEvent) {}, "seed:e1"},
		{"SkipUnsigned", func(c *Config, _ chan *SeedEvent) { c.SkipUnsigned = true }, "ev-0-0"},
		{"UnsignedOnly", func(c *Config, ch chan *SeedEvent) {
			c.UnsignedOnly = true
			c.Unsigned = func(_ context.Context, e *SeedEvent) error { ch <- e; return nil }
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, cfg := newCluster(t, 1)
			seen := make(chan *SeedEvent, 64)
			tc.mode(&cfg, seen)
			if tc.wantFirst == "" {
				// A new UnsignedOnly group starts at the end of the
				// topic: produce until the consumer has its offset.
				rc := startConsumer(t, cfg, nil)
				deadline := time.Now().Add(guard)
				var got *SeedEvent
				for got == nil && time.Now().Before(deadline) {
					produceRaw(t, cfg, "k", signed, seed)
					select {
					case got = <-seen:
					case <-time.After(200 * time.Millisecond):
					}
				}
				if got == nil || got.ID != "seed:e1" || got.Value != "j1" {
					t.Fatalf("Unsigned got %+v", got)
				}
				rc.stop(t)
				if n := len(rc.events); n != 0 {
					t.Fatalf("handler got %d events in UnsignedOnly mode", n)
				}
				return
			}
			produceRaw(t, cfg, "k", seed, signed)
			rc := startConsumer(t, cfg, nil)
			e := rc.next(t)
			if e.EventID != tc.wantFirst {
				t.Fatalf("first event %q, want %q", e.EventID, tc.wantFirst)
			}
			if tc.wantFirst == "seed:e1" && (len(e.Sig) != 0 || e.Type != revocation.TypeJTI || e.TS != 1_700_000_000_000) {
				t.Fatalf("unsigned event %+v", e)
			}
			rc.stop(t)
			if st := rc.c.Stats(); st.Unsigned != 1 {
				t.Fatalf("Stats.Unsigned = %d, want 1", st.Unsigned)
			}
		})
	}
}

func mustJSON(t *testing.T, e revocation.Event) []byte {
	t.Helper()
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
