package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/kafka"
)

// readBackTimeout bounds the wait for the outboxes to deliver every
// acknowledged revocation to Kafka and Redis after the load.
const readBackTimeout = 2 * time.Minute

// fullStackRevoke runs the revoke steps against a node with Redis
// (redis-server) and Kafka (kfake, in this process, on loopback) on, as
// the seed runs it, then reads every revocation the load got a 200 for
// back from the topic (through kafka.Consumer, verifying each signature)
// and from Redis: none missing, none duplicated, all verifying. It records
// the bytes per event on the topic.
func (r *runner) fullStackRevoke(ctx context.Context, vi int) error {
	rs, err := startRedis(ctx, r.dir)
	if err != nil {
		return err
	}
	defer rs.Stop()
	kf, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, kafka.DefaultRevocationTopic, kafka.DefaultTokenTopic))
	if err != nil {
		return fmt.Errorf("kfake: %w", err)
	}
	defer kf.Close()
	brokers := kf.ListenAddrs()
	spec := NodeSpec{Name: "revoke-full", Dir: r.dir, Env: []string{"REDIS_URL=" + rs.URL(), "KAFKA_BOOTSTRAP=" + strings.Join(brokers, ",")}}
	n, err := r.startNode(ctx, spec, 30*time.Second)
	if err != nil {
		return err
	}
	defer n.Stop()
	acked := &ackLog{}
	for ci, conns := range r.prof.RevokeConns {
		wl := recordingRevokes{revokeWorkload{run: uint32(time.Now().UnixNano()) ^ uint32(vi<<8|ci)}, acked}
		r.addStep(r.runLoad(ctx, LoadSpec{Scenario: ScenarioRevoke, Variant: fmt.Sprintf("redis+kafka c=%d", conns),
			Unit: "revocations", Addr: n.Addr, Path: "/revoke", Conns: conns, Warmup: r.prof.Warmup, Duration: r.prof.Step,
			PIDs: []int{n.PID(), rs.PID()}}, wl))
	}
	if n.Exited() {
		return fmt.Errorf("revocd exited during the load:\n%s", tail(n.Output(), 3000))
	}
	want := acked.snapshot()
	if err := r.readBackKafka(ctx, n, brokers, want); err != nil {
		r.rep.Errors = append(r.rep.Errors, "full stack read-back (kafka): "+err.Error())
	}
	if err := readBackRedis(ctx, rs, want); err != nil {
		r.rep.Errors = append(r.rep.Errors, "full stack read-back (redis): "+err.Error())
	}
	return nil
}

// ackLog collects the (event_id, jti) of every revocation answered 200.
type ackLog struct {
	mu  sync.Mutex
	ids map[string]string
}

func (a *ackLog) add(id, jti string) {
	a.mu.Lock()
	if a.ids == nil {
		a.ids = map[string]string{}
	}
	a.ids[id] = jti
	a.mu.Unlock()
}

func (a *ackLog) snapshot() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]string, len(a.ids))
	for k, v := range a.ids {
		out[k] = v
	}
	return out
}

// recordingRevokes is revokeWorkload that logs what was acknowledged.
type recordingRevokes struct {
	revokeWorkload
	log *ackLog
}

func (w recordingRevokes) NewWorker(id int) Worker {
	return &recordingRevoker{revokeWorker: w.revokeWorkload.NewWorker(id).(*revokeWorker), log: w.log}
}

type recordingRevoker struct {
	*revokeWorker
	log *ackLog
	jti string
}

var jtiKey = []byte(`"value":"`)

func (r *recordingRevoker) Next() []byte {
	b := r.revokeWorker.Next()
	r.jti = ""
	if i := bytes.Index(b, jtiKey); i >= 0 {
		rest := b[i+len(jtiKey):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 {
			r.jti = string(rest[:j])
		}
	}
	return b
}

func (r *recordingRevoker) Check(status int, body []byte) (int, error) {
	n, err := r.revokeWorker.Check(status, body)
	if err != nil {
		return n, err
	}
	i := bytes.Index(body, eventIDKey)
	rest := body[i+len(eventIDKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || r.jti == "" {
		return 0, fmt.Errorf("revoke: no event_id or value: %.200s", body)
	}
	r.log.add(string(rest[:j]), r.jti)
	return n, nil
}

// readBackKafka consumes the topic from the start with kafka.Consumer (the
// path nodes and `revocd consume` use), verifies every event against the
// node's /events/keys, and checks that every acknowledged event is there
// exactly once. It records the topic's bytes per event.
func (r *runner) readBackKafka(ctx context.Context, n *Node, brokers []string, want map[string]string) error {
	v := eventsig.NewVerifier()
	keys, err := httpGet(ctx, n.URL+"/events/keys")
	if err != nil {
		return err
	}
	if err := v.TrustJSON(keys); err != nil {
		return fmt.Errorf("/events/keys: %w", err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var bad []string
	var got atomic.Int64
	c, err := kafka.NewConsumer(kafka.Config{Brokers: brokers, GroupID: "bench-readback", Logger: slog.New(slog.DiscardHandler)},
		func(_ context.Context, e *revocation.Event) error {
			err := v.Verify(e)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				bad = append(bad, fmt.Sprintf("%s: %v", e.EventID, err))
				return err
			}
			if jti, ok := want[e.EventID]; ok && jti != e.Value {
				bad = append(bad, fmt.Sprintf("%s: value %q, want %q", e.EventID, e.Value, jti))
			}
			if seen[e.EventID]++; seen[e.EventID] == 1 {
				got.Add(1)
			}
			return nil
		})
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, readBackTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(cctx) }()
	tick := time.NewTicker(50 * time.Millisecond)
	for got.Load() < int64(len(want)) && cctx.Err() == nil {
		<-tick.C
	}
	tick.Stop()
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	var missing, dup int
	for id := range want {
		if seen[id] == 0 {
			missing++
		}
	}
	for _, k := range seen {
		if k > 1 {
			dup++
		}
	}
	st := c.Stats()
	wire, records, err := topicBytes(ctx, brokers)
	if err == nil && records > 0 {
		r.addMeasure(Measure{Name: "kafka bytes per event", Value: float64(wire) / float64(records), Unit: "B",
			Note: fmt.Sprintf("%d records on the topic, compressed batches as stored", records)})
	}
	r.addMeasure(Measure{Name: "full stack read-back", Value: float64(len(want) - missing), Unit: "events",
		Note: fmt.Sprintf("of %d acknowledged: %d missing on the topic, %d duplicated, %d not verifying, consumer %+v", len(want), missing, dup, len(bad), st)})
	if missing > 0 || len(bad) > 0 || st.Malformed > 0 || st.BatchesDropped > 0 {
		return fmt.Errorf("%d of %d acknowledged events missing on the topic, %d bad (%v), consumer stats %+v",
			missing, len(want), len(bad), first(bad, 3), st)
	}
	return nil
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

// topicBytes reads the revocation topic once and returns the compressed
// record batch bytes and the records fetched.
func topicBytes(ctx context.Context, brokers []string) (bytes, records int64, err error) {
	h := &fetchBytes{}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(kafka.DefaultRevocationTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.WithHooks(h))
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		if fs.NumRecords() == 0 {
			continue
		}
		// Stop once a poll returns records and the next comes back empty
		// quickly: the topic is read.
		pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		for {
			more := cl.PollFetches(pctx)
			if pctx.Err() != nil || more.NumRecords() == 0 {
				break
			}
		}
		pcancel()
		break
	}
	return h.bytes.Load(), h.records.Load(), nil
}

type fetchBytes struct{ bytes, records atomic.Int64 }

func (f *fetchBytes) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	f.bytes.Add(int64(m.CompressedBytes))
	f.records.Add(int64(m.NumRecords))
}

// readBackRedis checks that Redis holds revoked:jti:<value> for every
// acknowledged revocation, waiting for the Redis outbox to drain.
func readBackRedis(ctx context.Context, rs *redisServer, want map[string]string) error {
	c := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer c.Close()
	jtis := make([]string, 0, len(want))
	for _, j := range want {
		jtis = append(jtis, "revoked:jti:"+j)
	}
	deadline := time.Now().Add(readBackTimeout)
	var missing int
	for {
		missing = 0
		for i := 0; i < len(jtis); i += 1000 {
			pipe := c.Pipeline()
			cmds := make([]*redis.IntCmd, 0, 1000)
			for _, k := range jtis[i:min(i+1000, len(jtis))] {
				cmds = append(cmds, pipe.Exists(ctx, k))
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
			for _, cmd := range cmds {
				if cmd.Val() != 1 {
					missing++
				}
			}
		}
		if missing == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if missing > 0 {
		return fmt.Errorf("%d of %d acknowledged revocations missing in Redis", missing, len(want))
	}
	return nil
}

func httpGet(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = errors.New(url + ": " + resp.Status)
	}
	return b, err
}
