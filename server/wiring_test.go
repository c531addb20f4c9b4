package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/revocd/revocd/config"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/internal/testutil/redisserver"
	"github.com/revocd/revocd/persistence/redismirror"
	"github.com/revocd/revocd/revocation"
)

// wiredNode is a node started in-process by Run, with Redis and Kafka.
type wiredNode struct {
	t    *testing.T
	base string
	rdb  *redis.Client
	kcl  *kgo.Client
}

// startWiredNode runs Run with a real SQLite file, a real redis-server and
// an in-process Kafka (kfake), trusting the external producer ext.
func startWiredNode(t *testing.T, ext *eventsig.Signer) *wiredNode {
	t.Helper()
	rs := redisserver.Start(t)
	kf, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "revocations", "token-events"), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kf.Close)
	env := map[string]string{
		"SQLITE_PATH":        filepath.Join(t.TempDir(), "r.db"),
		"LISTEN_ADDR":        "127.0.0.1:0",
		"NODE_ID":            "node-w",
		"REDIS_URL":          rs.URL(),
		"KAFKA_BOOTSTRAP":    kf.ListenAddrs()[0],
		"EVENT_TRUSTED_KEYS": "external=" + base64.StdEncoding.EncodeToString(ext.PublicKey()),
	}
	cfg, err := config.Load(flag.NewFlagSet("t", flag.ContinueOnError), []string{"--dev"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), func(a string) { addr <- a })
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("Run returned before serving: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("node did not serve within 60 s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run after cancel: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("Run did not return within 60 s of cancel")
		}
	})
	opts, err := redismirror.ParseURL(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	kcl, err := kgo.NewClient(kgo.SeedBrokers(kf.ListenAddrs()[0]))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kcl.Close)
	return &wiredNode{t: t, base: base, rdb: rdb, kcl: kcl}
}

func (n *wiredNode) call(method, path string, body any) (int, []byte) {
	n.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			n.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, n.base+path, r)
	if err != nil {
		n.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		n.t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (n *wiredNode) post(path string, body any) map[string]any {
	n.t.Helper()
	code, b := n.call(http.MethodPost, path, body)
	if code != http.StatusOK {
		n.t.Fatalf("POST %s: %d %s", path, code, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		n.t.Fatalf("POST %s: %v: %s", path, err, b)
	}
	return m
}

func (n *wiredNode) revoked(tok string) bool {
	n.t.Helper()
	return n.post("/token/validate", map[string]any{"token": tok, "check_revocation": true})["revoked"] == true
}

// eventually polls cond until it holds or 30 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 30 s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNodeWiring: a node wired by Run commits a revocation, answers
// once it is durable, enforces it, fans it out (Redis outbox), takes a
// signed event from Kafka through the intake actor (commit, index) while
// dropping a forged one with the labels operators alert on, reports its
// dependencies in /ready and stops cleanly when its context ends.
func TestNodeWiring(t *testing.T) {
	ext, err := eventsig.NewSigner("external", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	n := startWiredNode(t, ext)
	ctx := context.Background()

	// Local revocation: answered after the commit, enforced, fanned out.
	issued := n.post("/token", map[string]any{"subject": "wired"})
	tok, jti := issued["access_token"].(string), issued["jti"].(string)
	if n.revoked(tok) {
		t.Fatal("fresh token reported revoked")
	}
	n.post("/revoke", map[string]any{"type": "revoke_jti", "value": jti})
	if !n.revoked(tok) {
		t.Fatal("token not revoked once /revoke answered")
	}
	eventually(t, "revoked:jti key in Redis (fan-out to the Redis outbox)", func() bool {
		v, err := n.rdb.Get(ctx, "revoked:jti:"+jti).Result()
		return err == nil && v == "1"
	})

	// Remote revocations through Kafka: the signed one is taken, the
	// forged one is dropped.
	issued = n.post("/token", map[string]any{"subject": "wired-2"})
	tok2, jti2 := issued["access_token"].(string), issued["jti"].(string)
	signedEv := revocation.Event{EventID: uuid.NewString(), Type: revocation.TypeJTI, Value: jti2, TS: time.Now().UnixMilli(),
		ExpiresAt: time.Now().Add(time.Hour).UnixMilli(), Reason: "external", Origin: "external", Seq: 1}
	forged := signedEv
	forged.EventID, forged.Seq = uuid.NewString(), 2
	if err := ext.SignBatch([]*revocation.Event{&signedEv, &forged}); err != nil {
		t.Fatal(err)
	}
	forged.Value = "someone-else"
	for _, e := range []revocation.Event{forged, signedEv} {
		v, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.kcl.ProduceSync(ctx, &kgo.Record{Topic: "revocations", Key: []byte("revoke_jti:" + e.Value), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the Kafka revocation enforced", func() bool { return n.revoked(tok2) })
	eventually(t, "the forged Kafka event counted as dropped", func() bool {
		_, b := n.call(http.MethodGet, "/metrics", nil)
		return strings.Contains(string(b), `revocd_events_dropped_total{reason="bad_signature",source="kafka"} 1`) &&
			strings.Contains(string(b), `revocd_events_received_total{source="kafka"} 1`)
	})

	// One registry holds the runtime's, the HTTP layer's and the node's
	// collectors.
	_, m := n.call(http.MethodGet, "/metrics", nil)
	for _, name := range []string{"go_goroutines", "process_open_fds", "revocd_http_requests_total", "revocd_index_entries", "revocd_audit_commit_seconds", "revocd_outbox_backlog"} {
		if !strings.Contains(string(m), "\n"+name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	code, b := n.call(http.MethodGet, "/ready", nil)
	var ready struct {
		Ready  bool `json:"ready"`
		Checks map[string]struct {
			OK bool `json:"ok"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(b, &ready); err != nil {
		t.Fatalf("/ready: %v: %s", err, b)
	}
	if code != http.StatusOK || !ready.Ready {
		t.Fatalf("/ready: %d %s", code, b)
	}
	for _, name := range []string{"index", "sqlite", "redis", "kafka"} {
		if !ready.Checks[name].OK {
			t.Errorf("/ready check %q not ok: %s", name, b)
		}
	}
}
