package kafka

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/revocd/revocd/revocation"
)

// TestTopicDeletedAndRecreated: while the revocation topic is gone, Ping
// reports ErrTopicMissing naming the topic (the brokers still answer), and
// Deliver fails naming it; once the topic is created again, delivery
// resumes instead of sticking on UNKNOWN_TOPIC_ID, and Ping is ok.
func TestTopicDeletedAndRecreated(t *testing.T) {
	_, cfg := newCluster(t, 1)
	p := newPublisher(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := p.Deliver(ctx, []revocation.Event{testEvent(1, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := p.Ping(ctx); err != nil {
		t.Fatalf("ping with the topic: %v", err)
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if _, err := adm.DeleteTopics(ctx, DefaultRevocationTopic); err != nil {
		t.Fatal(err)
	}

	// Ping may answer from kgo's metadata cache (5 s) for a while.
	for err := p.Ping(ctx); !errors.Is(err, ErrTopicMissing); err = p.Ping(ctx) {
		if ctx.Err() != nil {
			t.Fatalf("ping never reported the missing topic: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := p.Ping(ctx); !strings.Contains(err.Error(), `"revocations"`) {
		t.Fatalf("ping error does not name the topic: %v", err)
	}
	dctx, dcancel := context.WithTimeout(ctx, 3*time.Second)
	err = p.Deliver(dctx, []revocation.Event{testEvent(1, 1)})
	dcancel()
	if err == nil || !strings.Contains(err.Error(), `"revocations"`) {
		t.Fatalf("deliver to a deleted topic: %v, want an error naming it", err)
	}

	if _, err := adm.CreateTopics(ctx, 1, 1, nil, DefaultRevocationTopic); err != nil {
		t.Fatal(err)
	}
	// The caller (the outbox) retries: delivery must succeed again within
	// a few attempts, not stick on the old topic id.
	var last error
	for i := 2; i < 8; i++ {
		actx, acancel := context.WithTimeout(ctx, 3*time.Second)
		last = p.Deliver(actx, []revocation.Event{testEvent(1, i)})
		acancel()
		if last == nil {
			break
		}
	}
	if last != nil {
		t.Fatalf("delivery still failing after the topic was recreated: %v", last)
	}
	if err := p.Ping(ctx); err != nil {
		t.Fatalf("ping after recreation: %v", err)
	}
}

// TestConsumerFollowsRecreatedTopic: a consumer whose topic is deleted and
// created again consumes the new instance (it used to fail every fetch
// with UNKNOWN_TOPIC_ID forever, so other nodes' revocations stopped
// arriving).
func TestConsumerFollowsRecreatedTopic(t *testing.T) {
	_, cfg := newCluster(t, 1)
	p := newPublisher(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := p.Deliver(ctx, []revocation.Event{testEvent(1, 0)}); err != nil {
		t.Fatal(err)
	}
	rc := startConsumer(t, cfg, nil)
	if e := rc.next(t); e.EventID != testEvent(1, 0).EventID {
		t.Fatalf("first event %s", e.EventID)
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if _, err := adm.DeleteTopics(ctx, DefaultRevocationTopic); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopics(ctx, 1, 1, nil, DefaultRevocationTopic); err != nil {
		t.Fatal(err)
	}
	want := testEvent(2, 1)
	for {
		actx, acancel := context.WithTimeout(ctx, 3*time.Second)
		err := p.Deliver(actx, []revocation.Event{want})
		acancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("deliver to the new topic: %v", err)
		}
	}
	if e := rc.next(t); e.EventID != want.EventID {
		t.Fatalf("after recreation got %s, want %s", e.EventID, want.EventID)
	}
}
