package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produceSeedRecord writes value to the revocation topic as the seed's
// Python service does: a JSON object, no revocd headers, no signature.
func produceSeedRecord(t *testing.T, broker string, value map[string]any) {
	t.Helper()
	b, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "revocations", Value: b}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// eventsWithValue counts n's revocation events (GET /revocations) of value.
func eventsWithValue(t *testing.T, n *node, value string) int {
	t.Helper()
	c := 0
	for _, e := range signedEvents(t, n) {
		if e.Value == value {
			c++
		}
	}
	return c
}

// TestMixedFleetUnsignedDroppedByDefault: a seed-era unsigned record on the
// topic is dropped and counted (revocd_events_dropped_total{reason=
// "unsigned"}) by a node without KAFKA_ACCEPT_UNSIGNED_EVENTS, and its
// revocation is not enforced. The old node counted it nowhere but a log
// line ("dropping malformed record").
func TestMixedFleetUnsignedDroppedByDefault(t *testing.T) {
	kf := startKafka(t)
	a := startNode(t, "", []string{"KAFKA_BOOTSTRAP=" + kf.addr(), "NODE_ID=a"})
	tok, jti := a.issue("gus")
	produceSeedRecord(t, kf.addr(), map[string]any{"event_id": "seed-evt-1", "type": "revoke_jti", "value": jti, "ts": time.Now().Unix()})
	eventually(t, kafkaBound, "a counted the unsigned record", func() bool {
		return metricValue(t, a, `revocd_events_dropped_total\{reason="unsigned",source="kafka"\}`) == 1
	})
	if v := a.validate(tok); v["revoked"] == true {
		t.Fatalf("a enforced an unsigned record without KAFKA_ACCEPT_UNSIGNED_EVENTS: %v", v)
	}
	if strings.Contains(a.log.String(), "KAFKA_ACCEPT_UNSIGNED_EVENTS=true") {
		t.Error("a warns about unsigned events it does not accept")
	}
}

// TestMixedFleetUnsignedAccepted (issue #11): with
// KAFKA_ACCEPT_UNSIGNED_EVENTS=true on two nodes sharing the topic, each
// warns at start; a seed-era record (seconds "ts", "ttl_seconds") is
// committed by exactly one node as its own signed revocation (counter +1 in
// all) and enforced on both, with exactly one event on each; the same
// record again (same event_id) is a replay and changes nothing. The old
// nodes dropped it.
func TestMixedFleetUnsignedAccepted(t *testing.T) {
	kf := startKafka(t)
	env := []string{"KAFKA_BOOTSTRAP=" + kf.addr(), "KAFKA_ACCEPT_UNSIGNED_EVENTS=true"}
	a := startNode(t, "", append(env, "NODE_ID=a"))
	b := startNode(t, "", append(env, "NODE_ID=b"))
	for _, n := range []*node{a, b} {
		if !strings.Contains(n.log.String(), "KAFKA_ACCEPT_UNSIGNED_EVENTS=true") {
			t.Fatalf("no WARN at start about unsigned events:\n%s", tail(n.log.String(), 2000))
		}
	}
	accepted := func() float64 {
		return metricValue(t, a, `revocd_events_unsigned_accepted_total`) + metricValue(t, b, `revocd_events_unsigned_accepted_total`)
	}
	// The shared group starts at the end of the topic: probe until it
	// has its offset (each probe awaited, so none is in flight after).
	deadline := time.Now().Add(kafkaBound)
	for i := 0; accepted() == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatal("the shared unsigned-events group never took a record")
		}
		produceSeedRecord(t, kf.addr(), map[string]any{"type": "revoke_jti", "value": fmt.Sprint("probe-", i)})
		for wait := time.Now().Add(time.Second); accepted() == 0 && time.Now().Before(wait); {
			time.Sleep(25 * time.Millisecond)
		}
	}
	before := accepted()
	tok, jti := a.issue("hal")
	record := map[string]any{"event_id": "seed-evt-2", "type": "revoke_jti", "value": jti, "ts": time.Now().Unix(), "ttl_seconds": 3600, "reason": "logout"}
	produceSeedRecord(t, kf.addr(), record)
	waitRevoked(t, a, tok, "the seed record enforced on a")
	waitRevoked(t, b, tok, "the seed record enforced on b")
	if got := accepted() - before; got != 1 {
		t.Fatalf("unsigned records committed: %v, want 1 (one node takes it)", got)
	}
	produceSeedRecord(t, kf.addr(), record)
	eventually(t, kafkaBound, "the replayed seed record skipped", func() bool {
		return strings.Contains(a.log.String()+b.log.String(), "unsigned record replayed; skipping")
	})
	if got := accepted() - before; got != 1 {
		t.Errorf("after the replay: %v committed, want 1", got)
	}
	for name, n := range map[string]*node{"a": a, "b": b} {
		if c := eventsWithValue(t, n, jti); c != 1 {
			t.Errorf("%s holds %d events revoking the jti, want exactly 1", name, c)
		}
	}
}
