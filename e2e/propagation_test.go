package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/internal/testutil/redisserver"
	"github.com/revocd/revocd/revocation"
)

// kafkaCluster starts an in-process Kafka (franz-go's kfake: the real Kafka
// protocol over TCP on loopback) on a fixed port so it can be restarted.
type kafkaCluster struct {
	t    *testing.T
	port int
	dir  string
	c    *kfake.Cluster
}

func startKafka(t *testing.T) *kafkaCluster {
	k := &kafkaCluster{t: t, port: freePort(t), dir: t.TempDir()}
	k.start()
	t.Cleanup(k.stop)
	return k
}

func (k *kafkaCluster) start() {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(k.port), kfake.DataDir(k.dir), kfake.SyncWrites(),
		kfake.SeedTopics(1, "revocations", "token-events"), kfake.AllowAutoTopicCreation())
	if err != nil {
		k.t.Fatalf("kfake: %v", err)
	}
	k.c = c
}

func (k *kafkaCluster) stop() {
	if k.c != nil {
		k.c.Close()
		k.c = nil
	}
}

func (k *kafkaCluster) addr() string { return fmt.Sprintf("127.0.0.1:%d", k.port) }

// startKafkaTB starts a kfake cluster for a benchmark and returns its address.
func startKafkaTB(tb testing.TB) string {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "revocations", "token-events"), kfake.AllowAutoTopicCreation())
	if err != nil {
		tb.Fatalf("kfake: %v", err)
	}
	tb.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// kcat runs the independent Kafka client kcat (Debian package).
func kcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatal("kcat not found: install it with `apt-get install -y kcat`")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kcat", args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

// topicRecords reads every record of topic with kcat: "key\tvalue" lines.
func topicRecords(t *testing.T, broker, topic string) [][2]string {
	out := kcat(t, "", "-b", broker, "-t", topic, "-C", "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n")
	var recs [][2]string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "\t")
		recs = append(recs, [2]string{k, v})
	}
	return recs
}

// eventually polls cond until it holds or the bound passes.
func eventually(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", bound, what)
}

func metricValue(t *testing.T, n *node, pattern string) float64 {
	t.Helper()
	body := string(n.do("GET", "/metrics", nil).Body)
	re := regexp.MustCompile(pattern + ` ([0-9.e+]+)`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func TestRedisAndKafkaPropagation(t *testing.T) {
	rs := redisserver.Start(t)
	kf := startKafka(t)
	// An external producer's event-signing key, trusted by the node.
	ext, err := eventsig.NewSigner("external-producer", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	trusted := "external-producer=" + base64.StdEncoding.EncodeToString(ext.PublicKey())
	n := startNode(t, "", []string{"REDIS_URL=" + rs.URL(), "KAFKA_BOOTSTRAP=" + kf.addr(), "NODE_ID=node-a", "EVENT_TRUSTED_KEYS=" + trusted})
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	tok, jti := n.issue("kate")
	rv := n.revoke("revoke_jti", jti)
	if rv["published"] != true {
		t.Errorf("published = %v, want true with Kafka up", rv["published"])
	}
	eventually(t, 10*time.Second, "revoked:jti key in Redis", func() bool {
		v, err := rdb.Get(ctx, "revoked:jti:"+jti).Result()
		return err == nil && v == "1"
	})
	if ttl := rdb.TTL(ctx, "revoked:jti:"+jti).Val(); ttl <= 0 {
		t.Errorf("revoked:jti TTL = %v, want > 0", ttl)
	}
	n.revoke("revoke_sub", "kate")
	eventually(t, 10*time.Second, "revoked:sub key in Redis", func() bool { return rdb.Exists(ctx, "revoked:sub:kate").Val() == 1 })

	// kcat (an independent client) sees our signed events, keyed type:value
	// (the node's key_state events, cluster state, are on the topic too).
	var recs [][2]string
	for _, r := range topicRecords(t, kf.addr(), "revocations") {
		if !strings.HasPrefix(r[0], string(revocation.TypeKeyState)+":") {
			recs = append(recs, r)
		}
	}
	if len(recs) < 2 || recs[0][0] != "revoke_jti:"+jti || recs[1][0] != "revoke_sub:kate" {
		t.Fatalf("topic records = %v", recs)
	}
	var ev revocation.Event
	if err := json.Unmarshal([]byte(recs[0][1]), &ev); err != nil || ev.Value != jti || len(ev.Sig) == 0 || ev.Origin != "node-a" || ev.Seq == 0 {
		t.Fatalf("published event = %+v (%v)", ev, err)
	}
	// Token events go to the token topic.
	eventually(t, 10*time.Second, "token events on token-events", func() bool {
		return len(topicRecords(t, kf.addr(), "token-events")) > 0
	})
	_ = tok

	// An event produced by kcat, signed by a trusted key, is enforced.
	tok2, jti2 := n.issue("leo")
	signed := revocation.Event{EventID: uuid.NewString(), Type: revocation.TypeJTI, Value: jti2, TS: time.Now().UnixMilli(),
		ExpiresAt: time.Now().Add(time.Hour).UnixMilli(), Reason: "external", Origin: "external", Seq: 1}
	if err := ext.SignBatch([]*revocation.Event{&signed}); err != nil {
		t.Fatal(err)
	}
	line, _ := json.Marshal(signed)
	kcat(t, "revoke_jti:"+jti2+"\t"+string(line)+"\n", "-b", kf.addr(), "-t", "revocations", "-P", "-K", "\t")
	eventually(t, 15*time.Second, "kcat-produced signed event enforced", func() bool { return n.validate(tok2)["revoked"] == true })

	// A forged event (value changed after signing) is dropped and counted.
	tok3, jti3 := n.issue("mia")
	forged := signed
	forged.EventID, forged.Value = uuid.NewString(), jti3
	line, _ = json.Marshal(forged)
	kcat(t, "revoke_jti:"+jti3+"\t"+string(line)+"\n", "-b", kf.addr(), "-t", "revocations", "-P", "-K", "\t")
	eventually(t, 15*time.Second, "forged event counted", func() bool {
		return metricValue(t, n, `revocd_events_dropped_total\{reason="bad_signature",source="kafka"\}`) >= 1
	})
	if v := n.validate(tok3); v["valid"] != true {
		t.Fatalf("forged event was enforced: %v", v)
	}
}

func TestOutboxSurvivesOutagesAndKill9(t *testing.T) {
	rs := redisserver.Start(t)
	kf := startKafka(t)
	n := startNode(t, "", []string{"REDIS_URL=" + rs.URL(), "KAFKA_BOOTSTRAP=" + kf.addr(), "NODE_ID=node-o", "PUBLISH_WAIT_MS=50"})
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr(), MaxRetries: -1})
	defer rdb.Close()
	ctx := context.Background()

	var jtis []string
	revokeSome := func(k int) {
		for i := 0; i < k; i++ {
			_, jti := n.issue("outage")
			n.revoke("revoke_jti", jti) // 200 = durable, even with Redis/Kafka down
			jtis = append(jtis, jti)
		}
	}
	revokeSome(3)
	rs.Stop()
	revokeSome(5)
	kf.stop()
	revokeSome(5)
	ready := n.do("GET", "/ready", nil)
	if ready.Status != 200 || !strings.Contains(string(ready.Body), `"backlog"`) {
		t.Fatalf("/ready during outage: %d %s", ready.Status, ready.Body)
	}
	// Crash in the middle of the outage, restart: the backlog survives.
	n.restart()
	revokeSome(2)
	rs.Restart()
	kf.start()
	eventually(t, 30*time.Second, "every acknowledged revocation in Redis", func() bool {
		for _, j := range jtis {
			if rdb.Exists(ctx, "revoked:jti:"+j).Val() != 1 {
				return false
			}
		}
		return true
	})
	eventually(t, 30*time.Second, "every acknowledged revocation on the topic, in order", func() bool {
		seen := map[string]int{}
		for i, r := range topicRecords(t, kf.addr(), "revocations") {
			if _, dup := seen[r[0]]; !dup {
				seen[r[0]] = i
			}
		}
		last := -1
		for _, j := range jtis {
			pos, ok := seen["revoke_jti:"+j]
			if !ok || pos < last {
				return false
			}
			last = pos
		}
		return true
	})
}

func TestTwoNodesShareKafkaAndRedis(t *testing.T) {
	rs := redisserver.Start(t)
	kf := startKafka(t)
	dir := t.TempDir()
	dbA, dbB := dir+"/a.db", dir+"/b.db"
	keyA := eventKey(t, dbA, "key-a")
	keyB := eventKey(t, dbB, "key-b")
	trusted := "EVENT_TRUSTED_KEYS=" + keyA + "," + keyB
	common := []string{"REDIS_URL=" + rs.URL(), "KAFKA_BOOTSTRAP=" + kf.addr(), trusted}
	a := startNode(t, dbA, append(common, "NODE_ID=a", "PQC_SIGNING_KEY_ID=key-a"))
	b := startNode(t, dbB, append(common, "NODE_ID=b", "PQC_SIGNING_KEY_ID=key-b"))
	tok, jti := a.issue("nina")
	if v := b.validate(tok); v["valid"] != true {
		t.Fatalf("B does not accept A's token: %v", v)
	}
	a.revoke("revoke_jti", jti)
	eventually(t, 15*time.Second, "A's revocation enforced by B", func() bool { return b.validate(tok)["revoked"] == true })
	tok2, _ := b.issue("omar")
	b.revoke("revoke_sub", "omar")
	eventually(t, 15*time.Second, "B's revocation enforced by A", func() bool { return a.validate(tok2)["revoked"] == true })
}

// eventKey creates the node's event key in db and returns "key_id=base64".
func eventKey(t *testing.T, db, keyID string) string {
	t.Helper()
	out, err := exec.Command(binPath, "event-key", "--dev", "--sqlite-path", db, "--pqc-signing-key-id", keyID).Output()
	if err != nil {
		t.Fatalf("revocd event-key: %v", err)
	}
	var doc struct {
		Keys []struct {
			KeyID     string `json:"key_id"`
			PublicKey []byte `json:"public_key"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(out, &doc); err != nil || len(doc.Keys) != 1 {
		t.Fatalf("event-key output %q: %v", out, err)
	}
	return doc.Keys[0].KeyID + "=" + base64.StdEncoding.EncodeToString(doc.Keys[0].PublicKey)
}

func TestConsumeWritesSeedRedisKeys(t *testing.T) {
	rs := redisserver.Start(t)
	kf := startKafka(t)
	dir := t.TempDir()
	key := eventKey(t, dir+"/a.db", "key-c")
	n := startNode(t, dir+"/a.db", []string{"KAFKA_BOOTSTRAP=" + kf.addr(), "NODE_ID=producer", "PQC_SIGNING_KEY_ID=key-c"})
	target := strings.TrimSuffix(rs.URL(), "/0") + "/3"
	cmd := exec.Command(binPath, "consume", "--dev", "--sqlite-path", dir+"/c.db", "--node-id", "consumer-1")
	cmd.Env = append(cleanEnv(), "KAFKA_BOOTSTRAP="+kf.addr(), "REDIS_URL="+target, "EVENT_TRUSTED_KEYS="+key)
	var logb lockedBuffer
	cmd.Stdout, cmd.Stderr = &logb, &logb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	_, jti := n.issue("pia")
	n.revoke("revoke_jti", jti)
	n.revoke("revoke_kid", "some-old-kid")
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr(), DB: 3})
	defer rdb.Close()
	ctx := context.Background()
	eventually(t, 20*time.Second, "consumer wrote the seed's keys", func() bool {
		return rdb.Get(ctx, "revoked:jti:"+jti).Val() == "1" && rdb.Exists(ctx, "revoked:kid:some-old-kid").Val() == 1
	})
	if t.Failed() {
		t.Log(logb.String())
	}
}
