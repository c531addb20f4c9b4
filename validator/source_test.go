package validator

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/revocation"
)

// chanSource is a Source fed by the test: each func runs on the sink.
type chanSource struct{ in chan func(Sink) }

func (s *chanSource) Run(ctx context.Context, sink Sink) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case f := <-s.in:
			f(sink)
		}
	}
}

// do runs f on the sink and waits until it has run.
func (s *chanSource) do(f func(Sink)) {
	done := make(chan struct{})
	s.in <- func(k Sink) { f(k); close(done) }
	<-done
}

// TestSourceReplacesTheStream: with Options.Source the events come from
// the Source, still verified against the trusted event keys (a forgery is
// refused and revokes nothing); freshness comes only from Sink.Fresh, so
// without it Validate fails closed after MaxStaleness, and an older
// Fresh never moves the view back.
func TestSourceReplacesTheStream(t *testing.T) {
	f := newFixture(t, token.AlgEdDSA, time.Hour)
	clock := newClock()
	src := &chanSource{in: make(chan func(Sink))}
	v := f.open(Options{MaxStaleness: time.Second, Now: clock.Now, Source: src})
	alice := f.issue("alice", time.Hour, "") // jti-1
	bob := f.issue("bob", time.Hour, "")     // jti-2
	for _, tok := range []string{alice, bob} {
		if _, err := v.Validate(tok); err != nil {
			t.Fatalf("fresh: %v", err)
		}
	}
	attacker, err := eventsig.NewSigner("ev-key", nil) // the trusted key's id, another key
	if err != nil {
		t.Fatal(err)
	}
	event := func(value string, signer *eventsig.Signer) *revocation.Event {
		now := time.Now()
		e := &revocation.Event{EventID: "ev-" + value, Type: revocation.TypeJTI, Value: value, TS: now.UnixMilli(),
			ExpiresAt: now.Add(time.Hour).UnixMilli(), Origin: "n1", Seq: 1}
		if err := signer.SignBatch([]*revocation.Event{e}); err != nil {
			t.Fatal(err)
		}
		return e
	}
	var okForged, okGenuine bool
	src.do(func(k Sink) {
		okForged = k.Apply(context.Background(), event("jti-2", attacker))
		okGenuine = k.Apply(context.Background(), event("jti-1", f.signer))
	})
	if okForged || !okGenuine {
		t.Fatalf("Apply: forged %v, genuine %v; want false, true", okForged, okGenuine)
	}
	if _, err := v.Validate(alice); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked through the Source: %v, want ErrRevoked", err)
	}
	if _, err := v.Validate(bob); err != nil {
		t.Fatalf("named by a forged event: %v, want valid", err)
	}
	if st := v.Status(); st.Applied != 1 || st.Rejected != 1 {
		t.Fatalf("status %+v, want 1 applied, 1 rejected", st)
	}

	clock.Advance(time.Second + time.Millisecond)
	if _, err := v.Validate(bob); !errors.Is(err, ErrStale) {
		t.Fatalf("no Fresh for MaxStaleness: %v, want ErrStale", err)
	}
	src.do(func(k Sink) { k.Fresh(clock.Now()) })
	if _, err := v.Validate(bob); err != nil {
		t.Fatalf("after Fresh: %v", err)
	}
	src.do(func(k Sink) { k.Fresh(clock.Now().Add(-time.Hour)) }) // older: ignored
	if _, err := v.Validate(bob); err != nil {
		t.Fatalf("after an older Fresh: %v", err)
	}
}
