package validator

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/httpapi"
)

// fakeClock is an injected clock.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// memLog is an in-memory audit log (httpapi.FeedLog).
type memLog struct {
	mu     sync.Mutex
	events []httpapi.LoggedEvent
}

func (m *memLog) EventsAfter(_ context.Context, after int64, limit int) ([]httpapi.LoggedEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []httpapi.LoggedEvent
	for _, e := range m.events {
		if e.ID > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memLog) LastEventID(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.events)), nil
}

func (m *memLog) ActiveEventsPage(_ context.Context, nowMs, after, upto int64, limit int) ([]httpapi.LoggedEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []httpapi.LoggedEvent
	for _, e := range m.events {
		if e.ID > after && e.ID <= upto && e.Event.ExpiresAt > nowMs && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

// fixture is revocd's real HTTP API (JWKS, event keys, feed, validate)
// over an in-memory log, a real token ring and a real event signer.
type fixture struct {
	t      testing.TB
	ring   *token.Ring
	issuer *token.Issuer
	signer *eventsig.Signer
	ix     *index.Index
	log    *memLog
	notify *httpapi.Notifier
	URL    string
	seq    atomic.Uint64
	jti    atomic.Uint64
}

const fixtureIssuer = "test-issuer"

// newFixtureB is newFixture for benchmarks.
func newFixtureB(b *testing.B, alg token.Algorithm) *fixture { return newFixture(b, alg, time.Hour) }

func newFixture(t testing.TB, alg token.Algorithm, heartbeat time.Duration) *fixture {
	t.Helper()
	var key *token.Key
	var err error
	if alg == token.AlgHS256 {
		key, err = token.NewHMACKey(hmacKeyID(testSecret), []byte(testSecret))
	} else {
		key, err = token.GenerateKey(alg, "k-"+string(alg), bytes.NewReader(bytes.Repeat([]byte{3}, 64)))
	}
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ring: token.NewRing(key), log: &memLog{}, notify: httpapi.NewNotifier(), ix: index.New(index.Options{})}
	f.ix.SetReady()
	f.issuer = &token.Issuer{Ring: f.ring, Issuer: fixtureIssuer}
	if f.signer, err = eventsig.NewSigner("ev-key", nil); err != nil {
		t.Fatal(err)
	}
	a, err := httpapi.New(httpapi.Deps{
		Options: httpapi.Options{RequestTimeout: time.Second, AccessTTL: time.Hour, MaxAccessTTL: time.Hour, MaxBatchTokens: 10,
			AdminAPIKeys: []string{"admin-key-0123456789"}},
		Verifier: token.NewVerifier(f.ring, token.VerifierOptions{Issuer: fixtureIssuer}), Ring: f.ring, Index: f.ix,
		Feed: &httpapi.Feed{Log: f.log, Notifier: f.notify, Heartbeat: heartbeat, APIKeys: []string{testFeedKey}},
		EventKeys: func() []byte {
			b, _ := eventsig.PublicKeysJSON(f.signer)
			return b
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: a.Handler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	f.URL = "http://" + ln.Addr().String()
	return f
}

const (
	testSecret  = "a-test-jwt-secret-of-32-bytes!!!"
	testFeedKey = "feed-key-0123456789"
)

// issue returns a token for sub with extra spec fields.
func (f *fixture) issue(sub string, ttl time.Duration, typ string) string {
	f.t.Helper()
	tok, _, err := f.issuer.Issue(token.Spec{Subject: sub, TTL: ttl, Type: typ, JTI: fmt.Sprintf("jti-%d", f.jti.Add(1))})
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// revoke commits a revocation signed by signer (f.signer if nil).
func (f *fixture) revoke(typ revocation.Type, value string, signer *eventsig.Signer) {
	f.t.Helper()
	if signer == nil {
		signer = f.signer
	}
	now := time.Now()
	e := &revocation.Event{EventID: fmt.Sprintf("ev-%d", f.seq.Add(1)), Type: typ, Value: value, TS: now.UnixMilli(),
		ExpiresAt: now.Add(time.Hour).UnixMilli(), Origin: "n1", Seq: f.seq.Load()}
	if err := signer.SignBatch([]*revocation.Event{e}); err != nil {
		f.t.Fatal(err)
	}
	switch typ {
	case revocation.TypeJTI:
		f.ix.RevokeJTI(value, e.ExpiresAt)
	case revocation.TypeSub:
		f.ix.RevokeSub(value, e.SubCutoff(), e.ExpiresAt)
	case revocation.TypeKid:
		f.ix.RevokeKid(value, e.ExpiresAt)
	}
	f.log.mu.Lock()
	id := int64(len(f.log.events) + 1)
	f.log.events = append(f.log.events, httpapi.LoggedEvent{ID: id, Event: *e})
	f.log.mu.Unlock()
	f.notify.Notify(id)
}

// open returns a Validator of f with opts completed.
func (f *fixture) open(opts Options) *Validator {
	f.t.Helper()
	opts.URLs = []string{f.URL}
	opts.APIKey = testFeedKey
	opts.Issuer = fixtureIssuer
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := New(ctx, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { v.Close() })
	return v
}

// waitApplied waits until v has handled n events (applied or refused).
func waitApplied(t *testing.T, v *Validator, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for v.applied.Load()+v.rejected.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d events handled after 5s, want %d", v.applied.Load()+v.rejected.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// quiet is a logger that discards, for tests and benchmarks.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
