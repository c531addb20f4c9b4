package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/internal/testutil/redisserver"
	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/kafka"
)

// kafkaBound bounds how long a revocation takes to cross the topic here.
const kafkaBound = 20 * time.Second

// kafkaPair starts two nodes that share only a Kafka topic, as the README
// says: production nodes with CLUSTER_SECRET, or --dev nodes with nothing
// about trust. issue and revoke act on a node as a client of that mode.
type kafkaPair struct {
	a, b   *node
	issue  func(n *node, sub string) (tok, jti string)
	revoke func(n *node, jti string)
}

func startKafkaPair(t *testing.T, kf *kafkaCluster, dev bool, dbA, dbB string) *kafkaPair {
	t.Helper()
	p := &kafkaPair{}
	start := func(id, db string) *node {
		env := []string{"KAFKA_BOOTSTRAP=" + kf.addr(), "NODE_ID=" + id}
		if dev {
			return startNode(t, db, env)
		}
		env = append(env, "JWT_SECRET_KEY="+prodSecret, "ADMIN_API_KEYS="+prodAdminKey, "CLUSTER_SECRET="+trustSecret)
		return startNode(t, db, env, "--no-dev")
	}
	p.a, p.b = start("a", dbA), start("b", dbB)
	if dev {
		p.issue = func(n *node, sub string) (string, string) { return n.issue(sub) }
		p.revoke = func(n *node, jti string) { n.revoke("revoke_jti", jti) }
	} else {
		p.issue = func(n *node, sub string) (string, string) {
			r := adminPost(t, n, "/token", map[string]any{"subject": sub})
			return r["access_token"].(string), r["jti"].(string)
		}
		p.revoke = func(n *node, jti string) { adminRevoke(t, n, jti) }
	}
	return p
}

// waitRevoked polls n until tok validates as revoked.
func waitRevoked(t *testing.T, n *node, tok, what string) {
	t.Helper()
	eventually(t, kafkaBound, what, func() bool { return n.validate(tok)["revoked"] == true })
}

// TestKafkaOnlyTrust (issue #11): two nodes that share only a Kafka topic,
// started with CLUSTER_SECRET (or --dev and nothing), enforce each other's
// revocations with no EVENT_TRUSTED_KEYS: each record batch carries its
// node's sealed key announcement (revocd-node-key). The old nodes dropped
// every event of the other node as unknown_key.
func TestKafkaOnlyTrust(t *testing.T) {
	for _, dev := range []bool{false, true} {
		name := "production CLUSTER_SECRET"
		if dev {
			name = "dev with nothing"
		}
		t.Run(name, func(t *testing.T) {
			kf := startKafka(t)
			p := startKafkaPair(t, kf, dev, "", "")
			tokA, jtiA := p.issue(p.a, "ann")
			p.revoke(p.a, jtiA)
			waitRevoked(t, p.b, tokA, "a's revocation enforced on b")
			tokB, jtiB := p.issue(p.b, "bob")
			p.revoke(p.b, jtiB)
			waitRevoked(t, p.a, tokB, "b's revocation enforced on a")
			if _, found := readyChecks(t, p.b)["kafka_trust"]; found {
				t.Errorf("b reports kafka_trust while every event verifies")
			}
		})
	}
}

// outsiderPublish publishes, as revocd would, a revocation of jti signed by
// a fresh key and announced under secret for node announced, with origin.
func outsiderPublish(t *testing.T, broker string, secret []byte, announced, origin, jti string) {
	t.Helper()
	signer, err := eventsig.NewSigner("outsider-key", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := eventsig.SealAnnouncement(secret, eventsig.Announcement{NodeID: announced, KeyID: signer.KeyID(), Pub: signer.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kafka.NewPublisher(kafka.Config{Brokers: []string{broker}, Announcement: sealed})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	now := time.Now().UnixMilli()
	e := revocation.Event{EventID: uuid.NewString(), Type: revocation.TypeJTI, Value: jti, TS: now, ExpiresAt: now + 3600_000,
		Reason: "outsider", Origin: origin, Seq: 1_000_000}
	if err := signer.SignBatch([]*revocation.Event{&e}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := pub.Deliver(ctx, []revocation.Event{e}); err != nil {
		t.Fatal(err)
	}
}

// TestKafkaOnlyTrustRefusesOutsiders: whoever can write to the topic but
// does not hold CLUSTER_SECRET cannot get a revocation enforced, neither
// claiming to be node a nor as a node of its own; the node reports the
// refused origin in /ready (kafka_trust) with the fix, and logs it at WARN.
func TestKafkaOnlyTrustRefusesOutsiders(t *testing.T) {
	kf := startKafka(t)
	p := startKafkaPair(t, kf, false, "", "")
	tok, jti := p.issue(p.a, "carl")
	// Learn a's key first, so that "claiming to be a" is a real attempt.
	tok0, jti0 := p.issue(p.a, "dora")
	p.revoke(p.a, jti0)
	waitRevoked(t, p.b, tok0, "a's revocation enforced on b")
	tests := []struct{ name, announced, origin string }{
		{"announces a key for node a", "a", "a"},
		{"announces a key for itself", "x", "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := metricValue(t, p.b, `revocd_events_dropped_total\{reason="(?:unknown_key|bad_signature)",source="kafka"\}`)
			outsiderPublish(t, kf.addr(), []byte(outsiderSecret), tc.announced, tc.origin, jti)
			eventually(t, kafkaBound, "b refused the outsider's event", func() bool {
				return metricValue(t, p.b, `revocd_events_dropped_total\{reason="(?:unknown_key|bad_signature)",source="kafka"\}`) > before
			})
			if v := p.b.validate(tok); v["revoked"] == true {
				t.Fatalf("b enforced the outsider's revocation: %v", v)
			}
		})
	}
	if c, found := readyChecks(t, p.b)["kafka_trust"]; !found || c.OK || !strings.Contains(c.Detail, "x; fix") || !strings.Contains(c.Detail, "CLUSTER_SECRET") {
		t.Errorf("b's /ready kafka_trust = %+v (found %v), want not ok naming origin x and CLUSTER_SECRET", c, found)
	}
	if !strings.Contains(p.b.log.String(), "node key announcement") {
		t.Errorf("b did not log the refused announcement:\n%s", tail(p.b.log.String(), 3000))
	}
}

// TestKafkaUntrustedOriginReported: a node with KAFKA_BOOTSTRAP and no
// trust source (no CLUSTER_SECRET, no EVENT_TRUSTED_KEYS, not --dev) starts
// (a single node on its own topic is legitimate), and the first event it
// refuses for an untrusted origin turns /ready's kafka_trust not ok, naming
// the origin and CLUSTER_SECRET, with a WARN. The old node only logged each
// refusal as "handler rejected event".
func TestKafkaUntrustedOriginReported(t *testing.T) {
	kf := startKafka(t)
	env := []string{"KAFKA_BOOTSTRAP=" + kf.addr(), "JWT_SECRET_KEY=" + prodSecret, "ADMIN_API_KEYS=" + prodAdminKey}
	a := startNode(t, "", append(env, "NODE_ID=a", "CLUSTER_SECRET="+trustSecret), "--no-dev")
	b := startNode(t, "", append(env, "NODE_ID=b"), "--no-dev")
	r := adminPost(t, a, "/token", map[string]any{"subject": "eve"})
	adminRevoke(t, a, r["jti"].(string))
	eventually(t, kafkaBound, "b reports a's events refused", func() bool {
		c, found := readyChecks(t, b)["kafka_trust"]
		return found && !c.OK && strings.Contains(c.Detail, "origin a") && strings.Contains(c.Detail, "CLUSTER_SECRET")
	})
	if !strings.Contains(b.log.String(), "their origin's key is not trusted") {
		t.Errorf("b did not log the refusal at WARN:\n%s", tail(b.log.String(), 3000))
	}
}

// TestConsumeTrustsClusterSecret: `revocd consume` with only
// CLUSTER_SECRET (or --dev and nothing), no EVENT_TRUSTED_KEYS, writes a
// node's revocation to a real redis-server. The old consume refused to
// start without EVENT_TRUSTED_KEYS.
func TestConsumeTrustsClusterSecret(t *testing.T) {
	for i, dev := range []bool{false, true} {
		t.Run(fmt.Sprintf("dev=%v", dev), func(t *testing.T) {
			rs := redisserver.Start(t)
			kf := startKafka(t)
			dir := t.TempDir()
			p := startKafkaPair(t, kf, dev, "", "")
			db := 4 + i
			target := strings.TrimSuffix(rs.URL(), "/0") + fmt.Sprintf("/%d", db)
			args := []string{"consume", "--sqlite-path", dir + "/c.db", "--node-id", "consumer-1"}
			env := append(cleanEnv(), "KAFKA_BOOTSTRAP="+kf.addr(), "REDIS_URL="+target)
			if dev {
				args = append(args, "--dev")
			} else {
				env = append(env, "CLUSTER_SECRET="+trustSecret)
			}
			cmd := exec.Command(binPath, args...)
			cmd.Env = env
			var logb lockedBuffer
			cmd.Stdout, cmd.Stderr = &logb, &logb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			_, jti := p.issue(p.a, "fay")
			p.revoke(p.a, jti)
			rdb := redis.NewClient(&redis.Options{Addr: rs.Addr(), DB: db})
			defer rdb.Close()
			eventually(t, kafkaBound, "consume wrote a's revocation", func() bool {
				return rdb.Get(context.Background(), "revoked:jti:"+jti).Val() == "1"
			})
			if t.Failed() {
				t.Log(logb.String())
			}
		})
	}
}

// relayEvents publishes events to the topic as revocd records, with
// sealed as the revocd-node-key header when not nil.
func relayEvents(t *testing.T, broker string, sealed []byte, events []revocation.Event) {
	t.Helper()
	pub, err := kafka.NewPublisher(kafka.Config{Brokers: []string{broker}, Announcement: sealed})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := pub.Deliver(ctx, events); err != nil {
		t.Fatal(err)
	}
}

// signedEvents returns n's revocation events with their signatures
// (GET /revocations, open in --dev).
func signedEvents(t *testing.T, n *node) []revocation.Event {
	t.Helper()
	var r struct {
		Events []revocation.Event `json:"events"`
	}
	if err := json.Unmarshal(n.do("GET", "/revocations?after=0&limit=100", nil).Body, &r); err != nil {
		t.Fatal(err)
	}
	return r.Events
}

// TestKafkaTrustPersisted (issue #11): a restarted node trusts the keys
// it learnt from announcements before any new announcement arrives. Node
// a's signed events reach b through a relay (a producer that copies them
// to the topic, as a bridge that does not keep headers would): the first
// one with a's announcement (sealed under the cluster secret), then b is
// killed and restarted, then the second one without an announcement: b
// enforces it only if it kept a's key. The old node forgot every
// announced key on restart and dropped it as unknown_key.
func TestKafkaTrustPersisted(t *testing.T) {
	kf := startKafka(t)
	a := startNode(t, "", []string{"NODE_ID=a"}) // no Kafka: the relay carries its events
	b := startNode(t, "", []string{"KAFKA_BOOTSTRAP=" + kf.addr(), "NODE_ID=b", "JWT_SECRET_KEY=" + prodSecret,
		"ADMIN_API_KEYS=" + prodAdminKey, "CLUSTER_SECRET=" + trustSecret}, "--no-dev")
	var keys struct {
		Keys []struct {
			KeyID     string `json:"key_id"`
			PublicKey []byte `json:"public_key"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(a.do("GET", "/events/keys", nil).Body, &keys); err != nil || len(keys.Keys) != 1 {
		t.Fatalf("a's event keys: %v %+v", err, keys)
	}
	sealed, err := eventsig.SealAnnouncement([]byte(trustSecret), eventsig.Announcement{NodeID: "a", KeyID: keys.Keys[0].KeyID, Pub: keys.Keys[0].PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	a.revoke("revoke_jti", "jti-before-restart")
	a.revoke("revoke_jti", "jti-after-restart")
	var events []revocation.Event
	for _, e := range signedEvents(t, a) {
		if e.Type == revocation.TypeJTI && strings.HasPrefix(e.Value, "jti-") && len(e.Sig) > 0 {
			events = append(events, e)
		}
	}
	if len(events) != 2 || events[0].Value != "jti-before-restart" {
		t.Fatalf("a's signed revocations: %d, want jti-before-restart and jti-after-restart", len(events))
	}
	relayEvents(t, kf.addr(), sealed, events[:1])
	eventually(t, kafkaBound, "b stored a's announcement", func() bool {
		return strings.Contains(b.log.String(), "trusted key announcements stored")
	})
	eventually(t, kafkaBound, "b applied a's first event", func() bool {
		return metricValue(t, b, `revocd_events_received_total\{source="kafka"\}`) == 1
	})
	// A clean stop leaves the consumer group at once (a killed member
	// holds its partitions for the session timeout).
	if err := b.terminate(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	b.start()
	relayEvents(t, kf.addr(), nil, events[1:])
	eventually(t, kafkaBound, "b took a's second event", func() bool {
		return metricValue(t, b, `revocd_events_received_total\{source="kafka"\}`)+
			metricValue(t, b, `revocd_events_dropped_total\{reason="unknown_key",source="kafka"\}`) >= 1
	})
	if got := metricValue(t, b, `revocd_events_received_total\{source="kafka"\}`); got != 1 {
		t.Fatalf("b after restart: applied %v of a's events, want 1 (dropped unknown_key: %v)", got,
			metricValue(t, b, `revocd_events_dropped_total\{reason="unknown_key",source="kafka"\}`))
	}
}
