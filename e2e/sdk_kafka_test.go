package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/validator"
	"github.com/revocd/revocd/validator/kafkasource"
)

// TestSDKKafkaMode runs the real revocd publishing to an in-process Kafka
// (kfake) and the SDK following the topic directly (kafkasource): a
// revocation by jti and by subject is enforced within the bound; events
// produced straight to the topic with a forged signature (an untrusted
// key; the node's key id with another key's signature) are refused and
// revoke nothing; with the broker stopped the SDK fails closed with
// ErrStale once MaxStaleness has passed.
func TestSDKKafkaMode(t *testing.T) {
	const staleness = 5 * time.Second
	kf := startKafka(t)
	n := startNode(t, "", []string{"JWT_ALGORITHM=EdDSA", "FEED_API_KEYS=" + sdkFeedKey,
		"KAFKA_BOOTSTRAP=" + kf.addr(), "NODE_ID=node-k"})

	quietLog := slog.New(slog.DiscardHandler) // the stopped broker makes the clients log every retry
	src, err := kafkasource.New(kafkasource.Options{Brokers: []string{kf.addr()}, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := validator.New(ctx, validator.Options{URLs: []string{n.URL}, APIKey: sdkFeedKey,
		Issuer: "p4-revocation-service", MaxStaleness: staleness, Source: src, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()

	// awaitErr polls Validate until its error matches want (nil: valid).
	awaitErr := func(what, tok string, want error, within time.Duration) {
		t.Helper()
		var err error
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			_, err = v.Validate(tok)
			if (want == nil && err == nil) || (want != nil && errors.Is(err, want)) {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("%s: Validate = %v after %v, want %v (status %+v)", what, err, within, want, v.Status())
	}

	tokJTI, jti := n.issue("kafka-jti-user")
	tokSub, _ := n.issue("kafka-sub-user")
	tokForged, forgedJTI := n.issue("kafka-forged-user")
	for _, tok := range []string{tokJTI, tokSub, tokForged} {
		awaitErr("fresh token", tok, nil, 15*time.Second) // the consumer has caught up once
	}

	// Revocations made on revocd reach the SDK through the topic.
	n.revoke("revoke_jti", jti)
	awaitErr("revoke_jti", tokJTI, validator.ErrRevoked, 10*time.Second)
	n.revoke("revoke_sub", "kafka-sub-user")
	awaitErr("revoke_sub", tokSub, validator.ErrRevoked, 10*time.Second)

	// Forged events produced straight to the topic are refused.
	var keysDoc struct {
		Keys []struct {
			KeyID string `json:"key_id"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(n.do("GET", "/events/keys", nil).Body, &keysDoc); err != nil || len(keysDoc.Keys) == 0 {
		t.Fatalf("/events/keys: %v %+v", err, keysDoc)
	}
	attacker, err := eventsig.NewSigner("attacker", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(kf.addr()), kgo.DefaultProduceTopic("revocations"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	before := v.Status().Rejected
	forgeries := []struct {
		name  string
		keyID string // "" keeps the attacker's
	}{
		{"untrusted key", ""},
		{"node's key id, attacker's signature", keysDoc.Keys[0].KeyID},
	}
	for i, f := range forgeries {
		now := time.Now()
		e := &revocation.Event{EventID: fmt.Sprintf("forged-%d-%d", i, now.UnixNano()), Type: revocation.TypeJTI,
			Value: forgedJTI, TS: now.UnixMilli(), ExpiresAt: now.Add(time.Hour).UnixMilli(), Reason: "forged", Origin: "node-k", Seq: 1}
		if err := attacker.SignBatch([]*revocation.Event{e}); err != nil {
			t.Fatal(err)
		}
		if f.keyID != "" {
			e.KeyID = f.keyID
		}
		val, _ := json.Marshal(e)
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(string(e.Type) + ":" + e.Value), Value: val}).FirstErr(); err != nil {
			t.Fatalf("%s: produce: %v", f.name, err)
		}
	}
	eventually(t, 10*time.Second, "both forged events refused", func() bool { return v.Status().Rejected >= before+int64(len(forgeries)) })
	if _, err := v.Validate(tokForged); err != nil {
		t.Fatalf("token named by forged events: %v, want valid", err)
	}

	// Broker stopped: fresh until MaxStaleness, then fail closed.
	kf.stop()
	stopped := time.Now()
	awaitErr("broker down", tokForged, validator.ErrStale, staleness+5*time.Second)
	if d := time.Since(stopped); d < staleness/2 {
		t.Fatalf("stale after %v, before MaxStaleness %v", d, staleness)
	}
	t.Logf("stale %v after the broker stopped (MaxStaleness %v)", time.Since(stopped), staleness)
}
