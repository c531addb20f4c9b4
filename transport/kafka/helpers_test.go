package kafka

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/revocd/revocd/revocation"
)

// guard bounds every wait in these tests. It is a hang guard only: no test
// asserts on how long anything takes.
const guard = 2 * time.Minute

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newCluster starts a one-broker kfake cluster on loopback with both topics.
func newCluster(t testing.TB, partitions int32) (*kfake.Cluster, Config) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, DefaultRevocationTopic, DefaultTokenTopic))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c, Config{Brokers: c.ListenAddrs(), GroupID: "g-" + t.Name(), Logger: quietLogger()}
}

func newPublisher(t testing.TB, cfg Config) *Publisher {
	t.Helper()
	p, err := NewPublisher(cfg)
	if err != nil {
		t.Fatalf("NewPublisher: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// testEvent returns a well-formed event; key selects the partition key.
func testEvent(key, i int) revocation.Event {
	types := []revocation.Type{revocation.TypeJTI, revocation.TypeSub, revocation.TypeKid}
	return revocation.Event{
		EventID:   fmt.Sprintf("ev-%d-%d", key, i),
		Type:      types[key%3],
		Value:     fmt.Sprintf("value-%d", key),
		TS:        1_700_000_000_000 + int64(i),
		ExpiresAt: 1_800_000_000_000,
		Reason:    "test",
		Origin:    "node-a",
		Seq:       uint64(i + 1),
		KeyID:     "k1",
		Alg:       revocation.SigAlg,
		Sig:       []byte{1, 2, 3, byte(i)},
	}
}

// runningConsumer is a Consumer running in the background whose handler
// forwards every event to events.
type runningConsumer struct {
	c      *Consumer
	events chan *revocation.Event
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func startConsumer(t *testing.T, cfg Config, reject func(*revocation.Event) error) *runningConsumer {
	t.Helper()
	rc := &runningConsumer{events: make(chan *revocation.Event, 10_000), done: make(chan error, 1)}
	c, err := NewConsumer(cfg, func(_ context.Context, e *revocation.Event) error {
		rc.events <- e
		if reject != nil {
			return reject(e)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	rc.c = c
	ctx, cancel := context.WithCancel(context.Background())
	rc.cancel = cancel
	go func() { rc.done <- c.Run(ctx) }()
	t.Cleanup(func() { rc.stop(t) })
	return rc
}

// stop cancels Run and waits for it; Run must return nil. Idempotent.
func (rc *runningConsumer) stop(t *testing.T) {
	t.Helper()
	rc.once.Do(func() {
		rc.cancel()
		select {
		case err := <-rc.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(guard):
			t.Fatal("Run did not return after cancel")
		}
	})
}

// next waits for the next handled event.
func (rc *runningConsumer) next(t *testing.T) *revocation.Event {
	t.Helper()
	select {
	case e := <-rc.events:
		return e
	case err := <-rc.done:
		t.Fatalf("Run returned early: %v", err)
	case <-time.After(guard):
		t.Fatal("no event delivered")
	}
	return nil
}

// kcat returns the path of kcat or fails the test.
func kcat(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		p, err = exec.LookPath("/usr/bin/kcat")
	}
	if err != nil {
		t.Fatalf("kcat not found: install it with `apt-get install -y kcat`")
	}
	return p
}

// runKcat runs kcat with stdin and returns its stdout.
func runKcat(t *testing.T, stdin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat(t), args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat %v: %v\nstderr: %s", args, err, stderr.String())
	}
	return out
}
