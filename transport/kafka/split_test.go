package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/revocation"
)

// signed returns n events of origin, signed as one batch by s, with keys
// distinct keys (so spread over partitions).
func signed(t testing.TB, s *eventsig.Signer, origin string, n, keys int) []revocation.Event {
	t.Helper()
	evs := make([]revocation.Event, n)
	ptrs := make([]*revocation.Event, n)
	for i := range evs {
		evs[i] = testEvent(i%keys, i)
		evs[i].EventID = fmt.Sprintf("%s-%d-%d", origin, i, time.Now().UnixNano())
		evs[i].Origin = origin
		evs[i].Sig = nil
		ptrs[i] = &evs[i]
	}
	if err := s.SignBatch(ptrs); err != nil {
		t.Fatal(err)
	}
	return evs
}

func newSigner(t testing.TB) (*eventsig.Signer, *eventsig.Verifier) {
	t.Helper()
	s, err := eventsig.NewSigner("k-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	v := eventsig.NewVerifier()
	if err := v.Trust(s.KeyID(), s.PublicKey()); err != nil {
		t.Fatal(err)
	}
	return s, v
}

// produceRecs writes recs (which name their topic) with a plain client, in
// order.
func produceRecs(t *testing.T, cfg Config, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// collect reads n events from rc and checks each against want (by id):
// same event, Sig byte-for-byte, and it verifies.
func collect(t *testing.T, rc *runningConsumer, v *eventsig.Verifier, want []revocation.Event) {
	t.Helper()
	byID := map[string]revocation.Event{}
	for _, w := range want {
		byID[w.EventID] = w
	}
	seen := map[string]bool{}
	for range want {
		e := rc.next(t)
		w, ok := byID[e.EventID]
		if !ok || seen[e.EventID] {
			t.Fatalf("unexpected or duplicate event %q", e.EventID)
		}
		seen[e.EventID] = true
		if !bytes.Equal(e.Sig, w.Sig) || e.Value != w.Value || e.TS != w.TS || e.Origin != w.Origin || e.Seq != w.Seq {
			t.Fatalf("event %q differs from the one published", e.EventID)
		}
		if err := v.Verify(e); err != nil {
			t.Fatalf("event %q: %v", e.EventID, err)
		}
	}
}

// TestSplitFormatOnTheWire: Deliver writes signed events in format 2: no
// record carries more than its proof, exactly one header per (batch,
// partition), and the consumer hands back the original events, verified.
func TestSplitFormatOnTheWire(t *testing.T) {
	_, cfg := newCluster(t, 3)
	s, v := newSigner(t)
	p := newPublisher(t, cfg)
	evs := signed(t, s, "node-a", 256, 97)
	if err := p.Deliver(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, cfg, DefaultRevocationTopic, len(evs))
	headers := map[int32]int{}
	var total int
	for _, r := range recs {
		if sig, ok := header(r, HeaderBatchSig); ok {
			headers[r.Partition]++
			if len(sig) != eventsig.BatchSigSize {
				t.Fatalf("header of %d bytes", len(sig))
			}
		}
		if len(r.Value) > 1000 {
			t.Fatalf("record of %d bytes: %s", len(r.Value), r.Value)
		}
		var m map[string]any
		if err := json.Unmarshal(r.Value, &m); err != nil || m["format"] != float64(FormatSplit) || m["type"] == nil || m["value"] == nil || m["ts"] == nil {
			t.Fatalf("value %s: %v", r.Value, err)
		}
		total += len(r.Key) + len(r.Value)
		for _, h := range r.Headers {
			total += len(h.Key) + len(h.Value)
		}
	}
	if len(headers) != 3 || headers[0] != 1 || headers[1] != 1 || headers[2] != 1 {
		t.Fatalf("batch signature headers per partition: %v, want one in each of 3", headers)
	}
	t.Logf("%d bytes per event (uncompressed key+value+headers); stats %+v", total/len(evs), p.Stats())
	collect(t, startConsumer(t, cfg, nil), v, evs)
}

// TestSplitAcrossFetchesAndBatches: batches larger than one poll, split
// by the outbox over two Deliver calls, and two batches in one call, all
// arrive complete and verified.
func TestSplitAcrossFetchesAndBatches(t *testing.T) {
	_, cfg := newCluster(t, 1)
	s, v := newSigner(t)
	p := newPublisher(t, cfg)
	a := signed(t, s, "node-a", 700, 5) // > maxPollRecords
	b := signed(t, s, "node-a", 30, 5)
	if err := p.Deliver(t.Context(), a[:300]); err != nil {
		t.Fatal(err)
	}
	if err := p.Deliver(t.Context(), append(append([]revocation.Event{}, a[300:]...), b...)); err != nil {
		t.Fatal(err)
	}
	rc := startConsumer(t, cfg, nil)
	collect(t, rc, v, append(append([]revocation.Event{}, a...), b...))
	if s := rc.c.Stats(); s.BatchesDropped != 0 || s.Malformed != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestSplitConsumerStartsMidBatch: a consumer that sees only the tail of
// a batch (its group's offset inside the batch) verifies that tail by the
// proofs and the header on the last record.
func TestSplitConsumerStartsMidBatch(t *testing.T) {
	_, cfg := newCluster(t, 1)
	s, v := newSigner(t)
	p := newPublisher(t, cfg)
	evs := signed(t, s, "node-a", 50, 3)
	recs, _, err := p.encode(evs, 1)
	if err != nil {
		t.Fatal(err)
	}
	produceRecs(t, cfg, recs[20:])
	collect(t, startConsumer(t, cfg, nil), v, evs[20:])
}

// TestSplitBadHeaders: a batch whose header never comes is dropped after
// MaxPendingRecords further records and counted; a header that is not the
// batch's, or a forged signature with matching references, never yields
// an accepted event; the events after them are handled.
func TestSplitBadHeaders(t *testing.T) {
	_, cfg := newCluster(t, 1)
	cfg.MaxPendingRecords = 8
	s, v := newSigner(t)
	other, _ := newSigner(t) // not trusted
	p := newPublisher(t, cfg)
	enc := func(evs []revocation.Event) []*kgo.Record {
		recs, _, err := p.encode(evs, 1)
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	strip := func(r *kgo.Record) *kgo.Record {
		c := *r
		c.Headers = nil
		for _, h := range r.Headers {
			if h.Key != HeaderBatchSig {
				c.Headers = append(c.Headers, h)
			}
		}
		return &c
	}
	var recs []*kgo.Record
	// 1. Missing header: 5 records that never complete.
	for _, r := range enc(signed(t, s, "node-a", 5, 1)) {
		recs = append(recs, strip(r))
	}
	// 2. Header of another batch.
	wrong := enc(signed(t, s, "node-a", 4, 1))
	donor := enc(signed(t, s, "node-a", 2, 1))
	wsig, _ := header(donor[1], HeaderBatchSig)
	for i, r := range wrong {
		r = strip(r)
		if i == len(wrong)-1 {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderBatchSig, Value: wsig})
		}
		recs = append(recs, r)
	}
	// 3. Consistent forgery: an untrusted key's batch relabelled.
	forged := signed(t, other, "node-a", 3, 1)
	for i := range forged {
		forged[i].KeyID = s.KeyID()
	}
	recs = append(recs, enc(forged)...)
	// 4. Good events after all that (a batch of up to MaxPendingRecords).
	good := signed(t, s, "node-a", 6, 1)
	recs = append(recs, enc(good)...)
	produceRecs(t, cfg, recs)

	rc := startConsumer(t, cfg, func(e *revocation.Event) error { return v.Verify(e) })
	var accepted []string
	for range len(forged) + len(good) {
		e := rc.next(t)
		if v.Verify(e) == nil {
			accepted = append(accepted, e.EventID)
		}
	}
	if len(accepted) != len(good) {
		t.Fatalf("accepted %d events, want the %d good ones", len(accepted), len(good))
	}
	for i, id := range accepted {
		if id != good[i].EventID {
			t.Fatalf("accepted %q, want %q", id, good[i].EventID)
		}
	}
	st := rc.c.Stats()
	if st.BatchesDropped != 2 || st.EventsDropped != 5+4 || st.HandlerErrors != uint64(len(forged)) {
		t.Fatalf("stats %+v, want 2 batches (9 events) dropped, %d handler errors", st, len(forged))
	}
}

// TestFormat1StillRead: seed-era single-event records (whole Sig in the
// value, no headers) are consumed and verify.
func TestFormat1StillRead(t *testing.T) {
	_, cfg := newCluster(t, 1)
	s, v := newSigner(t)
	evs := signed(t, s, "node-a", 4, 2)
	produceFormat1(t, cfg, evs)
	collect(t, startConsumer(t, cfg, nil), v, evs)
}

// produceFormat1 publishes evs as seed-era records: one JSON event per
// record with its whole Sig, no headers.
func produceFormat1(t *testing.T, cfg Config, evs []revocation.Event) {
	t.Helper()
	var vals [][]byte
	for i := range evs {
		b, err := json.Marshal(&evs[i])
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, b)
	}
	produceRaw(t, cfg, "jti:x", vals...)
}

// TestOriginFilters: a Publisher with Origin delivers only its own events
// (no echo of received ones), and a Consumer with Origin skips its own by
// header.
func TestOriginFilters(t *testing.T) {
	_, cfg := newCluster(t, 2)
	s, v := newSigner(t)
	pcfg := cfg
	pcfg.Origin = "node-a"
	p := newPublisher(t, pcfg)
	own := signed(t, s, "node-a", 10, 4)
	foreign := signed(t, s, "node-b", 10, 4)
	if err := p.Deliver(t.Context(), append(append([]revocation.Event{}, foreign[:5]...), append(own, foreign[5:]...)...)); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.EventsSkipped != 10 || st.EventsDelivered != 10 {
		t.Fatalf("publisher stats %+v, want 10 skipped, 10 delivered", st)
	}
	for _, r := range readAll(t, cfg, DefaultRevocationTopic, len(own)) {
		if o, _ := header(r, HeaderOrigin); string(o) != "node-a" {
			t.Fatalf("record of origin %q on the topic", o)
		}
	}
	// node-b's publisher (no filter) writes both; node-a's consumer skips its own.
	q := newPublisher(t, cfg)
	if err := q.Deliver(t.Context(), foreign); err != nil {
		t.Fatal(err)
	}
	ccfg := cfg
	ccfg.Origin = "node-a"
	rc := startConsumer(t, ccfg, nil)
	collect(t, rc, v, foreign)
	if st := rc.c.Stats(); st.SkippedOwn != uint64(len(own)) {
		t.Fatalf("consumer stats %+v, want %d skipped", st, len(own))
	}
}

// TestPartitionCountMismatch: when Deliver plans headers for a wrong
// partition count, it notices where the records landed and writes the
// affected events again in format 1, so none is lost.
func TestPartitionCountMismatch(t *testing.T) {
	_, cfg := newCluster(t, 3)
	s, v := newSigner(t)
	p := newPublisher(t, cfg)
	p.nparts.Store(2) // stale: the topic has 3
	p.npartsAt.Store(time.Now().UnixNano())
	evs := signed(t, s, "node-a", 60, 60)
	if err := p.Deliver(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	rc := startConsumer(t, cfg, nil)
	got := map[string]bool{}
	for len(got) < len(evs) {
		e := rc.next(t)
		if err := v.Verify(e); err != nil {
			t.Fatalf("event %q: %v", e.EventID, err)
		}
		got[e.EventID] = true
	}
	if p.nparts.Load() != 0 {
		t.Errorf("stale partition count kept")
	}
}

// TestWireBytesPerEvent measures bytes per event on the topic for a
// 256-event signed batch (the outbox's delivery size) per compression.
func TestWireBytesPerEvent(t *testing.T) {
	for _, comp := range []string{"none", "snappy", "lz4", "zstd"} {
		t.Run(comp, func(t *testing.T) {
			_, cfg := newCluster(t, 1)
			cfg.Compression = comp
			s, _ := newSigner(t)
			p := newPublisher(t, cfg)
			evs := signed(t, s, "node-a", 256, 256)
			for i := range evs {
				evs[i].Value = fmt.Sprintf("%032x", i*7919) // jti-like values
			}
			ptrs := make([]*revocation.Event, len(evs))
			for i := range evs {
				ptrs[i] = &evs[i]
			}
			if err := s.SignBatch(ptrs); err != nil {
				t.Fatal(err)
			}
			if err := p.Deliver(t.Context(), evs); err != nil {
				t.Fatal(err)
			}
			st := p.Stats()
			per := float64(st.WireBytes) / float64(st.WireRecords)
			t.Logf("%s: %.0f bytes/event on the topic (%.0f uncompressed)", comp, per, float64(st.WireBytesUncompressed)/float64(st.WireRecords))
			if comp == "zstd" && per > 600 {
				t.Errorf("%.0f bytes per event, want <= 600", per)
			}
		})
	}
}

// TestSplitCommitStopsBelowPending: offsets are never committed past a
// record still waiting for its batch signature, so a consumer of the same
// group that starts after the header arrived delivers the whole batch, and
// does not redeliver what was handled before it.
func TestSplitCommitStopsBelowPending(t *testing.T) {
	_, cfg := newCluster(t, 1)
	s, v := newSigner(t)
	p := newPublisher(t, cfg)
	evs := signed(t, s, "node-a", 5, 1)
	recs, _, err := p.encode(evs, 1)
	if err != nil {
		t.Fatal(err)
	}
	before, after := signed(t, s, "node-a", 1, 1), signed(t, s, "node-a", 1, 1)
	v1 := func(e *revocation.Event) *kgo.Record {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Topic: DefaultRevocationTopic, Key: []byte(EventKey(e)), Value: b}
	}
	produceRecs(t, cfg, append([]*kgo.Record{v1(&before[0])}, append(recs[:4:4], v1(&after[0]))...))

	rc := startConsumer(t, cfg, nil)
	if e := rc.next(t); e.EventID != before[0].EventID {
		t.Fatalf("first event %q", e.EventID)
	}
	if e := rc.next(t); e.EventID != after[0].EventID { // the batch waits for its header
		t.Fatalf("second event %q", e.EventID)
	}
	rc.stop(t)

	produceRecs(t, cfg, recs[4:])
	rc2 := startConsumer(t, cfg, nil)
	collect(t, rc2, v, append(append([]revocation.Event{}, evs...), after...))
}
