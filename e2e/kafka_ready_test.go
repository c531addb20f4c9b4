package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// readyEntry is one entry of /ready's "checks".
type readyEntry struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// readyChecks returns n's /ready checks by name.
func readyChecks(t testing.TB, n *node) map[string]readyEntry {
	t.Helper()
	var r struct {
		Checks map[string]readyEntry `json:"checks"`
	}
	resp := n.do("GET", "/ready", nil)
	if err := json.Unmarshal(resp.Body, &r); err != nil {
		t.Fatalf("/ready: %v: %q", err, resp.Body)
	}
	return r.Checks
}

// readyCheck returns the "checks" entry name of n's /ready.
func readyCheck(t *testing.T, n *node, name string) (ok bool, detail string) {
	t.Helper()
	c, found := readyChecks(t, n)[name]
	if !found {
		t.Fatalf("/ready has no %q check", name)
	}
	return c.OK, c.Detail
}

// TestReadyReportsKafkaThatCannotDeliver: when the broker loses the
// revocation topic, /ready reports kafka not ok with a reason naming the
// topic (it used to say ok while delivery stuck on UNKNOWN_TOPIC_ID);
// revocations are still accepted; once the topic exists again, kafka is ok
// and the backlog is delivered.
func TestReadyReportsKafkaThatCannotDeliver(t *testing.T) {
	kf := startKafka(t)
	n := startNode(t, "", []string{"KAFKA_BOOTSTRAP=" + kf.addr(), "NODE_ID=ready-node", "PUBLISH_WAIT_MS=0"})
	eventually(t, 20*time.Second, "kafka ok at start", func() bool { ok, _ := readyCheck(t, n, "kafka"); return ok })

	cl, err := kgo.NewClient(kgo.SeedBrokers(kf.addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := adm.DeleteTopics(ctx, "revocations"); err != nil {
		t.Fatal(err)
	}
	_, jti := n.issue("topic-loss")
	n.revoke("revoke_jti", jti) // accepted: the outbox holds it
	var detail string
	eventually(t, 30*time.Second, "kafka reported not ok", func() bool {
		var ok bool
		ok, detail = readyCheck(t, n, "kafka")
		return !ok
	})
	if !strings.Contains(detail, "revocations") {
		t.Fatalf("kafka not ok without naming the topic: %q", detail)
	}
	if r := n.do("GET", "/ready", nil); r.Status != 200 {
		t.Fatalf("a Kafka outage made the node unready: %d %s", r.Status, r.Body)
	}

	if _, err := adm.CreateTopics(ctx, 1, 1, nil, "revocations"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "kafka ok again", func() bool { ok, _ := readyCheck(t, n, "kafka"); return ok })
	eventually(t, 30*time.Second, "the backlog delivered to the new topic", func() bool {
		for _, rec := range topicRecords(t, kf.addr(), "revocations") {
			if rec[0] == "revoke_jti:"+jti {
				return true
			}
		}
		return false
	})
}
