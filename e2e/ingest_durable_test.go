package e2e

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/revocation"
)

// TestKafkaEventSurvivesFailedCommit is issue #12 item 1 end to end (real
// binary, kfake, real SQLite file): a verified Kafka event whose audit
// commit fails (here a trigger added to the node's database from another
// connection, as a busy or full disk would) is retried, its offset is not
// committed meanwhile, and once SQLite accepts writes again it is durable
// and enforced after a kill -9. The old node dropped the retry as a
// "replay", committed the offset and lost the event.
func TestKafkaEventSurvivesFailedCommit(t *testing.T) {
	kf := startKafka(t)
	ext, err := eventsig.NewSigner("external-producer", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	trusted := "external-producer=" + base64.StdEncoding.EncodeToString(ext.PublicKey())
	n := startNode(t, "", []string{"KAFKA_BOOTSTRAP=" + kf.addr(), "NODE_ID=node-d", "EVENT_TRUSTED_KEYS=" + trusted})
	ctx := context.Background()
	tok, jti := n.issue("dora")

	db, err := sql.Open("sqlite", n.DB+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER inject_failure BEFORE INSERT ON revocation_events
		BEGIN SELECT RAISE(ABORT, 'injected failure'); END`); err != nil {
		t.Fatal(err)
	}

	ev := revocation.Event{EventID: uuid.NewString(), Type: revocation.TypeJTI, Value: jti, TS: time.Now().UnixMilli(),
		ExpiresAt: time.Now().Add(time.Hour).UnixMilli(), Reason: "external", Origin: "external", Seq: 1}
	if err := ext.SignBatch([]*revocation.Event{&ev}); err != nil {
		t.Fatal(err)
	}
	value, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(kf.addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// The record's offset: the node's own key_state event, published at
	// its start, may lie before it on the topic.
	rec := &kgo.Record{Topic: "revocations", Key: []byte("revoke_jti:" + jti), Value: value}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// Two failed attempts: the second is the redelivery the old node took
	// for a replay.
	eventually(t, 30*time.Second, "two failed ingest attempts", func() bool {
		return strings.Count(n.log.String(), "kafka: ingest failed; retrying") >= 2
	})
	adm := kadm.NewClient(cl)
	committed := func() int64 {
		offs, err := adm.FetchOffsets(ctx, "revocd-node-d")
		if err != nil {
			t.Fatalf("fetch offsets: %v", err)
		}
		o, ok := offs.Lookup("revocations", 0)
		if !ok || o.Err != nil {
			return -1
		}
		return o.At
	}
	if at := committed(); at > rec.Offset {
		t.Fatalf("offset %d committed while the event's commit fails", at)
	}

	if _, err := db.Exec(`DROP TRIGGER inject_failure`); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the event in SQLite", func() bool {
		var c int
		if err := db.QueryRow(`SELECT count(*) FROM revocation_events WHERE event_id = ?`, ev.EventID).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c == 1
	})
	eventually(t, 30*time.Second, "the offset committed after the commit", func() bool { return committed() > rec.Offset })
	// The record itself was taken, not skipped. (The node's Kafka outbox
	// publishes the event again from its audit log, and that echo at a
	// later offset is a true replay, dropped.)
	for _, line := range strings.Split(n.log.String(), "\n") {
		if strings.Contains(line, "handler rejected event") && strings.Contains(line, fmt.Sprintf(" offset=%d ", rec.Offset)) {
			t.Fatalf("the retried record was skipped: %s", line)
		}
	}

	n.restart() // kill -9, then start from the same file
	if v := n.validate(tok); v["revoked"] != true {
		t.Fatalf("after a restart the Kafka revocation is gone: %v", v)
	}
}
