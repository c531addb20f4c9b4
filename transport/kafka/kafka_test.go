package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/revocd/revocd/revocation"
)

// produceRaw writes values to the revocation topic under one key (so one
// partition, in order) with an independent plain kgo client.
func produceRaw(t *testing.T, cfg Config, key string, values ...[]byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.DefaultProduceTopic(DefaultRevocationTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Key: []byte(key), Value: v}
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// readAll reads n records of topic from the start with a plain kgo client.
func readAll(t *testing.T, cfg Config, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records of %s: %v", len(out), n, topic, err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

func TestParseBrokers(t *testing.T) {
	good := map[string][]string{
		"localhost:9092":              {"localhost:9092"},
		" a:1 , b.example.com:65535 ": {"a:1", "b.example.com:65535"},
		"[::1]:9092,10.0.0.1:9093":    {"[::1]:9092", "10.0.0.1:9093"},
	}
	for in, want := range good {
		got, err := ParseBrokers(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseBrokers(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "  ", "localhost", "a:1,", "a:1,,b:2", ":9092", "a:0", "a:65536", "a:x", "::1:9092", "a b:1", "http://a:1"} {
		if got, err := ParseBrokers(in); err == nil {
			t.Errorf("ParseBrokers(%q) = %q, want error", in, got)
		} else if !strings.Contains(err.Error(), "KAFKA_BOOTSTRAP") {
			t.Errorf("ParseBrokers(%q) error %q does not name KAFKA_BOOTSTRAP", in, err)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	h := func(context.Context, *revocation.Event) error { return nil }
	if _, err := NewPublisher(Config{}); err == nil {
		t.Error("NewPublisher without brokers: want error")
	}
	if _, err := NewPublisher(Config{Brokers: []string{"nohost"}}); err == nil {
		t.Error("NewPublisher with bad broker: want error")
	}
	if _, err := NewPublisher(Config{Brokers: []string{"a:1"}, TokenTopic: DefaultRevocationTopic}); err == nil {
		t.Error("NewPublisher with one topic for both: want error")
	}
	if _, err := NewConsumer(Config{Brokers: []string{"a:1"}}, h); err == nil {
		t.Error("NewConsumer without GroupID: want error")
	}
	if _, err := NewConsumer(Config{Brokers: []string{"a:1"}, GroupID: "g"}, nil); err == nil {
		t.Error("NewConsumer with nil handler: want error")
	}
}

// TestDeliverConsumeInOrder publishes interleaved events for several keys
// over three partitions and consumes them back: every field survives, every
// key sees its events in order, and the record keys are "type:value".
func TestDeliverConsumeInOrder(t *testing.T) {
	_, cfg := newCluster(t, 3)
	p := newPublisher(t, cfg)
	const keys, perKey = 6, 20
	var batch []revocation.Event
	for i := range perKey {
		for k := range keys {
			batch = append(batch, testEvent(k, i))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := p.Deliver(ctx, batch); err != nil {
		t.Fatalf("Deliver: %v", err)
	}

	rc := startConsumer(t, cfg, nil)
	want := make(map[string]revocation.Event, len(batch))
	for _, e := range batch {
		want[e.EventID] = e
	}
	nextSeq := map[string]uint64{}
	for range batch {
		e := rc.next(t)
		if w, ok := want[e.EventID]; !ok || !reflect.DeepEqual(*e, w) {
			t.Fatalf("got %+v, want %+v", *e, w)
		}
		k := EventKey(e)
		if e.Seq != nextSeq[k]+1 {
			t.Fatalf("key %s: got seq %d after %d", k, e.Seq, nextSeq[k])
		}
		nextSeq[k] = e.Seq
	}
	if s := rc.c.Stats(); s.Decoded != uint64(len(batch)) || s.Malformed != 0 || s.HandlerErrors != 0 {
		t.Errorf("stats %+v", s)
	}

	for _, r := range readAll(t, cfg, DefaultRevocationTopic, len(batch)) {
		e, err := DecodeEvent(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != string(e.Type)+":"+e.Value {
			t.Errorf("record key %q for %s:%s", r.Key, e.Type, e.Value)
		}
	}
}

// TestMalformedDropped: garbage, oversize, wrongly typed and incomplete
// records are dropped and counted; good records after them still arrive.
func TestMalformedDropped(t *testing.T) {
	_, cfg := newCluster(t, 1)
	good := testEvent(0, 0)
	goodJSON, _ := json.Marshal(&good)
	extra := testEvent(0, 1)
	extraJSON, _ := json.Marshal(&extra)
	extraJSON = append([]byte(`{"added_later":true,`), extraJSON[1:]...) // unknown field: fine
	bad := [][]byte{
		[]byte("garbage \x00\xff"),
		nil,
		[]byte(`[]`),
		append(append([]byte(`{"pad":"`), strings.Repeat("x", 70<<10)...), goodJSON[1:]...), // valid but > 64 KiB
		[]byte(strings.Replace(string(goodJSON), `"seq":1`, `"seq":"1"`, 1)),                // wrong type
		[]byte(strings.Replace(string(goodJSON), `"event_id"`, `"not_event_id"`, 1)),        // missing field
	}
	produceRaw(t, cfg, EventKey(&good), append(bad, goodJSON, extraJSON)...)

	rc := startConsumer(t, cfg, nil)
	for _, want := range []revocation.Event{good, extra} {
		if e := rc.next(t); !reflect.DeepEqual(*e, want) {
			t.Fatalf("got %+v, want %+v", *e, want)
		}
	}
	if s := rc.c.Stats(); s.Malformed != uint64(len(bad)) || s.Decoded != 2 {
		t.Errorf("stats %+v, want %d malformed and 2 decoded", s, len(bad))
	}
}

// TestRestartResumes: a consumer restarted with the same GroupID neither
// re-delivers what was committed, including a record its handler rejected,
// nor misses what was published while it was down.
func TestRestartResumes(t *testing.T) {
	_, cfg := newCluster(t, 3)
	p := newPublisher(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	const keys = 6
	publish := func(round int) map[string]bool {
		ids := map[string]bool{}
		var batch []revocation.Event
		for k := range keys {
			e := testEvent(k, round)
			ids[e.EventID] = true
			batch = append(batch, e)
		}
		if err := p.Deliver(ctx, batch); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
		return ids
	}
	forged := testEvent(0, 0).EventID
	first := publish(0)
	rc := startConsumer(t, cfg, func(e *revocation.Event) error {
		if e.EventID == forged {
			return errors.New("bad signature")
		}
		return nil
	})
	for range first {
		if e := rc.next(t); !first[e.EventID] {
			t.Fatalf("unexpected event %s", e.EventID)
		}
	}
	rc.stop(t)
	if s := rc.c.Stats(); s.HandlerErrors != 1 || s.CommitErrors != 0 {
		t.Errorf("stats %+v, want 1 handler error", s)
	}

	// The second round uses the same keys, hence the same partitions, and
	// is behind the first one in each of them: a re-delivered first-round
	// event would arrive before the second round completes.
	second := publish(1)
	rc2 := startConsumer(t, cfg, nil)
	for range second {
		if e := rc2.next(t); !second[e.EventID] {
			t.Fatalf("event %s delivered again after restart", e.EventID)
		}
	}
}

// TestDeliverUnreachable: with no broker listening, Deliver gives up with an
// error once its ctx ends, and the other calls do not hang.
func TestDeliverUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := newPublisher(t, Config{Brokers: []string{addr}, Logger: quietLogger()})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	err = p.Deliver(ctx, []revocation.Event{testEvent(0, 0)})
	t.Logf("Deliver returned after %v: %v", time.Since(start), err) // informative only
	if err == nil || !strings.HasPrefix(err.Error(), "kafka: deliver") {
		t.Fatalf("Deliver = %v, want a kafka: deliver error", err)
	}
	if err := p.Ping(ctx); err == nil {
		t.Error("Ping succeeded with no broker")
	}
	p.PublishTokenEvent(ctx, TokenEvent{Event: "issued", Subject: "s", JTI: "j"}) // must not block
}

func TestTokenEvents(t *testing.T) {
	_, cfg := newCluster(t, 2)
	p := newPublisher(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a finished request must not drop its event
	for i := range 10 {
		p.PublishTokenEvent(ctx, TokenEvent{Event: "issued", Subject: fmt.Sprintf("user-%d", i%3), JTI: fmt.Sprint(i), Origin: "node-a"})
	}
	recs := readAll(t, cfg, DefaultTokenTopic, 10)
	for _, r := range recs {
		var ev TokenEvent
		if err := json.Unmarshal(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != ev.Subject || ev.Event != "issued" || ev.TS == 0 || ev.Origin != "node-a" {
			t.Errorf("record %q %s", r.Key, r.Value)
		}
	}
	if err := p.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	p.Close()
	if s := p.Stats(); s.TokenEventsSent != 10 || s.TokenEventsFailed != 0 {
		t.Errorf("stats %+v", s)
	}
	p.PublishTokenEvent(context.Background(), TokenEvent{Event: "late"})
	if s := p.Stats(); s.TokenEventsFailed != 1 {
		t.Errorf("after Close: stats %+v, want 1 failure", s)
	}
}

func TestEnsureTopics(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := Config{Brokers: c.ListenAddrs(), Logger: quietLogger()}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	for range 2 { // the second call finds both topics
		if err := EnsureTopics(ctx, cfg, 4); err != nil {
			t.Fatalf("EnsureTopics: %v", err)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(ctx, DefaultRevocationTopic, DefaultTokenTopic)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{DefaultRevocationTopic, DefaultTokenTopic} {
		if d, ok := td[topic]; !ok || d.Err != nil || len(d.Partitions) != 4 {
			t.Errorf("topic %s: %+v", topic, d)
		}
	}
}

// TestConsumerStopsUnreachable: Run returns nil after cancel even if the
// cluster never answered.
func TestConsumerStopsUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	rc := startConsumer(t, Config{Brokers: []string{addr}, GroupID: "g", Logger: quietLogger()}, nil)
	time.Sleep(time.Second) // let it try to join; not an assertion
	start := time.Now()
	rc.stop(t)
	t.Logf("Run returned %v after cancel", time.Since(start)) // informative only
}

// TestShutdownAfterClusterLoss: Run and Close still return once the cluster
// is gone.
func TestShutdownAfterClusterLoss(t *testing.T) {
	c, cfg := newCluster(t, 1)
	p := newPublisher(t, cfg)
	if err := p.Deliver(t.Context(), []revocation.Event{testEvent(0, 0)}); err != nil {
		t.Fatal(err)
	}
	rc := startConsumer(t, cfg, nil)
	rc.next(t)
	c.Close()
	p.PublishTokenEvent(t.Context(), TokenEvent{Event: "issued", Subject: "s"})
	rc.stop(t)
	p.Close()
}
