package kafka

import (
	"bufio"
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/revocd/revocd/revocation"
)

// TestKcatToConsumer: records produced by kcat (librdkafka, an independent
// client) are consumed and decoded by our Consumer; a malformed one is
// dropped and counted. Keys contain ':', so the key delimiter is '|'.
func TestKcatToConsumer(t *testing.T) {
	_, cfg := newCluster(t, 1)
	var lines strings.Builder
	var want []revocation.Event
	for i := range 3 {
		e := testEvent(i, i)
		b, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
		if i == 1 {
			lines.WriteString("junk|{\"event_id\":\n")
		}
		lines.WriteString(EventKey(&e) + "|" + string(b) + "\n")
	}
	runKcat(t, lines.String(), "-b", cfg.Brokers[0], "-t", DefaultRevocationTopic, "-P", "-K", "|")

	rc := startConsumer(t, cfg, nil)
	for _, w := range want {
		if e := rc.next(t); !reflect.DeepEqual(*e, w) {
			t.Fatalf("got %+v, want %+v", *e, w)
		}
	}
	if s := rc.c.Stats(); s.Malformed != 1 || s.Decoded != 3 {
		t.Errorf("stats %+v, want 1 malformed, 3 decoded", s)
	}
}

// TestPublisherToKcat: what Deliver publishes, kcat reads back with key
// "type:value" and a value DecodeEvent accepts.
func TestPublisherToKcat(t *testing.T) {
	_, cfg := newCluster(t, 3)
	p := newPublisher(t, cfg)
	var batch []revocation.Event
	for i := range 9 {
		batch = append(batch, testEvent(i, i))
	}
	ctx := t.Context()
	if err := p.Deliver(ctx, batch); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	out := runKcat(t, "", "-b", cfg.Brokers[0], "-t", DefaultRevocationTopic, "-C", "-o", "beginning", "-e", "-J", "-q")
	got := map[string]revocation.Event{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m struct {
			Key     *string `json:"key"`
			Payload string  `json:"payload"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("kcat line %q: %v", sc.Bytes(), err)
		}
		e, err := DecodeEvent([]byte(m.Payload))
		if err != nil {
			t.Fatalf("kcat payload: %v", err)
		}
		if m.Key == nil || *m.Key != string(e.Type)+":"+e.Value {
			t.Errorf("event %s: key %v, want %s:%s", e.EventID, m.Key, e.Type, e.Value)
		}
		got[e.EventID] = *e
	}
	if len(got) != len(batch) {
		t.Fatalf("kcat read %d events, want %d:\n%s", len(got), len(batch), out)
	}
	for _, w := range batch {
		if !reflect.DeepEqual(got[w.EventID], w) {
			t.Errorf("got %+v, want %+v", got[w.EventID], w)
		}
	}
}

// TestSplitRecordToKcat: a format-2 record is still readable JSON for an
// independent client: kcat shows the seed fields (type, value, ts) and the
// format; the batch signature header is only on the batch's last record.
func TestSplitRecordToKcat(t *testing.T) {
	_, cfg := newCluster(t, 1)
	s, _ := newSigner(t)
	p := newPublisher(t, cfg)
	evs := signed(t, s, "node-a", 3, 3)
	if err := p.Deliver(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	out := runKcat(t, "", "-b", cfg.Brokers[0], "-t", DefaultRevocationTopic, "-C", "-o", "beginning", "-e", "-q", "-f", "%s\n")
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var m struct {
			Type   string `json:"type"`
			Value  string `json:"value"`
			TS     int64  `json:"ts"`
			Format int    `json:"format"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("kcat line %q: %v", sc.Bytes(), err)
		}
		if w := evs[n]; m.Type != string(w.Type) || m.Value != w.Value || m.TS != w.TS || m.Format != FormatSplit {
			t.Errorf("kcat shows %+v for %+v", m, w)
		}
		n++
	}
	if n != len(evs) {
		t.Fatalf("kcat read %d records, want %d:\n%s", n, len(evs), out)
	}
}
