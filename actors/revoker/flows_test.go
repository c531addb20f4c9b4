package revoker

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/google/uuid"

	"github.com/revocd/revocd/actors/audit"
	"github.com/revocd/revocd/actors/issuer"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
)

// Tests of the write path as the HTTP API drives it: the issuer and the
// revocation actor hand their operations to a real audit writer on a real
// SQLite file; one fake clock drives the audit batches, the issuer, the
// token signer and the index.

const (
	testAccessTTL  = 30 * time.Minute
	testRefreshTTL = 24 * time.Hour
	testMaxLife    = 24 * time.Hour
)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct{ ms atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

type fixture struct {
	t       *testing.T
	engine  *actor.Engine
	clk     *fakeClock
	store   *sqlitestore.Store
	ix      *index.Index
	audit   *actor.PID
	issuer  *actor.PID
	revoker *actor.PID
	gate    *gate      // non-nil when the issuer and revoker write through a gate
	gatePID *actor.PID // the gate's actor
	// hold, when set, runs once on the audit writer's goroutine after its
	// next commit (through Config.Observe): holdWriter keeps it busy.
	hold atomic.Pointer[func()]
	ring *token.Ring
}

type fixtureOpts struct {
	grace time.Duration
	gated bool
	// clockOffset shifts the node's clock; skew is its audit writer's
	// MaxClockSkew.
	clockOffset, skew time.Duration
}

func newFixture(t *testing.T, o fixtureOpts) *fixture {
	t.Helper()
	clk := &fakeClock{}
	clk.ms.Store(1_700_000_000_250 + o.clockOffset.Milliseconds()) // a quarter into a second
	store, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "revocd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	signer, err := eventsig.NewSigner("ev1", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, engine: e, clk: clk, store: store, ix: index.New(index.Options{Now: clk.Now})}
	f.ix.SetReady()
	f.audit = e.Spawn(audit.New(audit.Config{Store: store, Signer: signer, Index: f.ix, Origin: "node-1", Now: clk.Now, MaxClockSkew: o.skew,
		Observe: func(int, int, time.Duration) {
			if h := f.hold.Swap(nil); h != nil {
				(*h)()
			}
		},
	}), "audit")
	writeTo := f.audit
	if o.gated {
		f.gate = &gate{arrived: make(chan struct{}, 16)}
		f.gatePID = e.Spawn(f.gate.producer(f.audit), "gate")
		writeTo = f.gatePID
	}
	key, err := token.GenerateKey(token.AlgHS256, "k1", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ring := token.NewRing(key)
	f.ring = ring
	f.issuer = e.Spawn(issuer.New(issuer.Config{
		Issuer: &token.Issuer{Ring: ring, Issuer: "test", Now: clk.Now}, Ring: ring, Audit: writeTo,
		Algorithm: token.AlgHS256, AccessTTL: testAccessTTL, RefreshTTL: testRefreshTTL, Rotation: true,
		ReuseGrace: o.grace, Now: clk.Now, Index: f.ix,
	}), "issuer")
	f.revoker = e.Spawn(New(Config{Audit: writeTo, Issuer: f.issuer, MaxLifetime: testMaxLife}), "revoker")
	if o.gated {
		// The issuer's first start publishes its key (CommitKeyState):
		// let that through, so the tests' gate counts only their own
		// operations.
		f.waitArrived()
		f.releaseGate()
	}
	t.Cleanup(func() {
		for _, pid := range []*actor.PID{f.revoker, f.issuer, f.audit} {
			<-e.Poison(pid).Done()
		}
	})
	return f
}

// answer is an actor's typed answer, folded for the assertions: Value is
// the issued token (issuer.Issued), the *issuer.Pair, the committed
// *revocation.Event or the *AlreadyRevoked; Err the error of a *Failed.
type answer struct {
	Value any
	Err   error
}

// ask sends msg to pid and returns its answer.
func (f *fixture) ask(pid *actor.PID, msg any) *answer {
	f.t.Helper()
	return result(f.t, f.engine.Request(pid, msg, 10*time.Second))
}

func result(t *testing.T, resp *actor.Response) *answer {
	t.Helper()
	v, err := resp.Result()
	if err != nil {
		t.Fatal(err)
	}
	switch r := v.(type) {
	case *issuer.Issued:
		return &answer{Value: *r}
	case *issuer.Pair:
		return &answer{Value: r}
	case *issuer.Rotated:
		return &answer{Value: r}
	case *Failed: // the issuer's and this actor's (both msg.Failed)
		return &answer{Err: r.Err}
	case *Revoked:
		return &answer{Value: &r.Event}
	case *AlreadyRevoked:
		return &answer{Value: r}
	}
	t.Fatalf("unexpected reply %T", v)
	return nil
}

// holdWriter keeps the audit writer busy on its goroutine, right after a
// commit, until the returned release is called: messages sent meanwhile
// wait in its inbox and join its next group commit.
func (f *fixture) holdWriter() (release func()) {
	f.t.Helper()
	entered, unblock := make(chan struct{}), make(chan struct{})
	h := func() {
		close(entered)
		<-unblock
	}
	f.hold.Store(&h)
	f.engine.Send(f.audit, &audit.Record{TokenEvents: []sqlitestore.TokenEvent{{Event: "test_hold", Subject: "-", JTI: "-"}}})
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		f.t.Fatal("the audit writer did not commit the hold record")
	}
	return func() { close(unblock) }
}

// claims of a signed token: jti, sub and iat, read from its payload.
type claims struct {
	JTI string `json:"jti"`
	Sub string `json:"sub"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
}

func parse(t *testing.T, tok string) claims {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c claims
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// revoked reports how the index sees a token.
func (f *fixture) revoked(tok string) index.Kind {
	c := parse(f.t, tok)
	return f.ix.Check(c.JTI, c.Sub, "", c.Iat)
}

func (f *fixture) issueAccess(sub string) string {
	f.t.Helper()
	r := f.ask(f.issuer, &issuer.IssueAccess{Subject: sub, TTL: testAccessTTL})
	if r.Err != nil {
		f.t.Fatal(r.Err)
	}
	return r.Value.(issuer.Issued).Token
}

func (f *fixture) revoke(typ revocation.Type, value string) *revocation.Event {
	f.t.Helper()
	r := f.ask(f.revoker, &Revoke{Type: typ, Value: value})
	if r.Err != nil {
		f.t.Fatal(r.Err)
	}
	return r.Value.(*revocation.Event)
}

var binding = []byte("binding-hash")

func (f *fixture) createRefresh(sub string) *issuer.Pair {
	f.t.Helper()
	r := f.ask(f.issuer, &issuer.CreateRefresh{Subject: sub, BindingHash: binding})
	if r.Err != nil {
		f.t.Fatal(r.Err)
	}
	return r.Value.(*issuer.Pair)
}

func refreshMsg(p *issuer.Pair) *issuer.Refresh {
	return &issuer.Refresh{OldJTI: p.Refresh.JTI, Subject: p.Subject, BindingHash: binding, AccessJTI: uuid.NewString()}
}

// refresh presents p's refresh token and returns the new pair or the error.
func (f *fixture) refresh(p *issuer.Pair) (*issuer.Pair, error) {
	f.t.Helper()
	r := f.ask(f.issuer, refreshMsg(p))
	if r.Err != nil {
		return nil, r.Err
	}
	return r.Value.(*issuer.Pair), nil
}

func (f *fixture) row(jti string) sqlitestore.RefreshToken {
	f.t.Helper()
	row, ok, err := f.store.GetRefresh(context.Background(), jti)
	if err != nil || !ok {
		f.t.Fatalf("refresh row %s: %v, %v", jti, ok, err)
	}
	return row
}

func (f *fixture) eventsFor(value string) int {
	f.t.Helper()
	evs, err := f.store.EventsAfter(context.Background(), 0, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		// A refresh token's refresh_state event (cluster state, not a
		// revocation) shares its jti as value.
		if e.Event.Value == value && !e.Event.Type.IsState() {
			n++
		}
	}
	return n
}

// gate holds the operations the issuer and the revocation actor send to the
// audit writer until released, so a test can put several of them into one
// group commit: the writer is kept busy meanwhile, then everything queued
// reaches its inbox before its next flush.
type gate struct {
	held    []held
	arrived chan struct{}
}

type held struct {
	msg    any
	sender *actor.PID
}

type release struct{}

func (g *gate) producer(to *actor.PID) actor.Producer {
	return func() actor.Receiver { return &gateActor{g: g, to: to} }
}

type gateActor struct {
	g  *gate
	to *actor.PID
}

func (a *gateActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case *audit.CommitRevocation, *audit.RevokeRefresh, *audit.CreateRefresh, *audit.RotateRefresh, *audit.PutKeyRing, *audit.CommitKeyState:
		a.g.held = append(a.g.held, held{m, c.Sender()})
		a.g.arrived <- struct{}{}
	case release:
		for _, h := range a.g.held {
			c.Engine().SendWithSender(a.to, h.msg, h.sender)
		}
		a.g.held = nil
		c.Respond(struct{}{})
	}
}

func (f *fixture) waitArrived() {
	f.t.Helper()
	select {
	case <-f.gate.arrived:
	case <-time.After(10 * time.Second):
		f.t.Fatal("no operation reached the gate")
	}
}

// TestRevokeSubRetryInSameSecondCoversTokenIssuedBetween: issue #12 item 3.
// The clock stands still, so all of this happens in one second.
func TestRevokeSubRetryInSameSecondCoversTokenIssuedBetween(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	before := f.issueAccess("alice")
	first := f.revoke(revocation.TypeSub, "alice")
	if f.revoked(before) != index.Sub {
		t.Fatal("token issued before the first revoke_sub survives it")
	}
	x := f.issueAccess("alice")
	if k := f.revoked(x); k != index.None {
		t.Fatalf("token issued after the first revoke_sub is born revoked (%v)", k)
	}
	second := f.revoke(revocation.TypeSub, "alice") // the client's retry
	if k := f.revoked(x); k != index.Sub {
		t.Fatalf("token X issued between two revoke_sub in one second survives the second (%v); cutoffs %d, %d, iat %d",
			k, first.SubCutoff(), second.SubCutoff(), parse(t, x).Iat)
	}
	after := f.issueAccess("alice")
	if k := f.revoked(after); k != index.None {
		t.Fatalf("token issued after the second revoke_sub is born revoked (%v)", k)
	}
	if second.SubCutoff() <= first.SubCutoff() || second.TS/1000 != second.SubCutoff() {
		t.Fatalf("cutoffs %d then %d (TS %d)", first.SubCutoff(), second.SubCutoff(), second.TS)
	}
	// The revocation outlives every token it covers.
	if min := time.UnixMilli(second.TS).Add(testMaxLife).UnixMilli(); second.ExpiresAt < min {
		t.Fatalf("expires_at %d before TS + max lifetime %d", second.ExpiresAt, min)
	}
}

// TestRevokeRefreshTwiceWritesOnce: issue #12 item 4, at the actor level.
func TestRevokeRefreshTwiceWritesOnce(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	p := f.createRefresh("bob")
	msg := &RevokeRefresh{JTI: p.Refresh.JTI, ExpiresAt: p.Refresh.ExpiresAt}
	r := f.ask(f.revoker, msg)
	ev, ok := r.Value.(*revocation.Event)
	if r.Err != nil || !ok {
		t.Fatalf("first revocation = %+v", r)
	}
	for i := range 5 {
		r := f.ask(f.revoker, msg)
		prev, ok := r.Value.(*AlreadyRevoked)
		if r.Err != nil || !ok || prev.EventID != ev.EventID || prev.LogID == 0 {
			t.Fatalf("revocation %d = %T (err %v), want AlreadyRevoked of %s", i+2, r.Value, r.Err, ev.EventID)
		}
	}
	if n := f.eventsFor(p.Refresh.JTI); n != 1 {
		t.Fatalf("%d events for the refresh jti, want 1", n)
	}
}

// TestRefreshReuseWithGrace: issue #12 item 6. Only the immediate
// predecessor of the family's live token, within the grace period, is a
// tolerated retry; anything older is reuse and revokes the family.
func TestRefreshReuseWithGrace(t *testing.T) {
	const grace = 10 * time.Second
	tests := []struct {
		name string
		// run drives the family from its first pair and returns the token
		// to present last, the pairs that must be dead after it when it is
		// reuse, and whether it is reuse.
		run func(f *fixture, a *issuer.Pair) (present *issuer.Pair, family []*issuer.Pair, reuse bool)
	}{
		{
			name: "A->B->C, replay A within grace",
			run: func(f *fixture, a *issuer.Pair) (*issuer.Pair, []*issuer.Pair, bool) {
				b := mustRefresh(f, a)
				c := mustRefresh(f, b)
				return a, []*issuer.Pair{a, b, c}, true
			},
		},
		{
			name: "A->B, retry A within grace",
			run: func(f *fixture, a *issuer.Pair) (*issuer.Pair, []*issuer.Pair, bool) {
				mustRefresh(f, a)
				f.clk.Advance(grace / 2)
				return a, nil, false
			},
		},
		{
			name: "A->B, retry A twice within grace",
			run: func(f *fixture, a *issuer.Pair) (*issuer.Pair, []*issuer.Pair, bool) {
				mustRefresh(f, a)
				mustRefresh(f, a)
				return a, nil, false
			},
		},
		{
			name: "A->B, retry A (B'), then B is a superseded sibling: reuse",
			run: func(f *fixture, a *issuer.Pair) (*issuer.Pair, []*issuer.Pair, bool) {
				b := mustRefresh(f, a)
				b2 := mustRefresh(f, a)
				return b, []*issuer.Pair{a, b, b2}, true
			},
		},
		{
			name: "A->B, retry A after grace",
			run: func(f *fixture, a *issuer.Pair) (*issuer.Pair, []*issuer.Pair, bool) {
				b := mustRefresh(f, a)
				f.clk.Advance(grace + time.Second)
				return a, []*issuer.Pair{a, b}, true
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{grace: grace})
			a := f.createRefresh("carol")
			other := f.createRefresh("carol") // another device of the subject
			present, family, reuse := tc.run(f, a)
			got, err := f.refresh(present)
			if !reuse {
				if err != nil {
					t.Fatalf("tolerated retry refused: %v", err)
				}
				// One live branch: the token just issued keeps working.
				if _, err := f.refresh(got); err != nil {
					t.Fatalf("token from the retry does not refresh: %v", err)
				}
				return
			}
			if !errors.Is(err, issuer.ErrRefreshReused) {
				t.Fatalf("refresh = %v, want ErrRefreshReused", err)
			}
			for _, p := range family {
				if row := f.row(p.Refresh.JTI); !row.Revoked {
					t.Errorf("refresh token %s of the family not revoked: %+v", p.Refresh.JTI, row)
				}
				if k := f.revoked(p.Access.Token); k == index.None {
					t.Errorf("access token %s of the family not revoked", p.Access.JTI)
				}
			}
			last := family[len(family)-1]
			if _, err := f.refresh(last); !errors.Is(err, issuer.ErrRefreshRevoked) {
				t.Errorf("the family's last token still refreshes: %v", err)
			}
			if _, err := f.refresh(other); err != nil {
				t.Errorf("reuse revoked another family of the subject: %v", err)
			}
		})
	}
}

func mustRefresh(f *fixture, p *issuer.Pair) *issuer.Pair {
	f.t.Helper()
	next, err := f.refresh(p)
	if err != nil {
		f.t.Fatalf("refresh: %v", err)
	}
	return next
}

// TestRevokeJTIOfRefreshToken: issue #12 item 9. revoke_jti of a refresh
// token's jti marks its stored state revoked in the same transaction.
func TestRevokeJTIOfRefreshToken(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	p := f.createRefresh("dave")
	f.revoke(revocation.TypeJTI, p.Refresh.JTI)
	if row := f.row(p.Refresh.JTI); !row.Revoked {
		t.Fatalf("row not revoked: %+v", row)
	}
	if _, err := f.refresh(p); !errors.Is(err, issuer.ErrRefreshRevoked) {
		t.Fatalf("refresh after revoke_jti = %v, want ErrRefreshRevoked", err)
	}
}

// TestRevokeJTIAndRefreshInOneBatch: a refresh already queued behind a
// revoke_jti of its token, in the same group commit, must fail.
func TestRevokeJTIAndRefreshInOneBatch(t *testing.T) {
	f := newFixture(t, fixtureOpts{gated: true})
	// Create the token through the gate.
	created := f.engine.Request(f.issuer, &issuer.CreateRefresh{Subject: "erin", BindingHash: binding}, 10*time.Second)
	f.waitArrived()
	f.releaseGate()
	r := result(t, created)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	p := r.Value.(*issuer.Pair)

	// Keep the audit writer busy while both operations reach its inbox.
	unblock := f.holdWriter()
	revoked := f.engine.Request(f.revoker, &Revoke{Type: revocation.TypeJTI, Value: p.Refresh.JTI}, 10*time.Second)
	f.waitArrived()
	refreshed := f.engine.Request(f.issuer, refreshMsg(p), 10*time.Second)
	f.waitArrived()
	f.releaseGate()
	unblock()

	if r := result(t, revoked); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := result(t, refreshed); !errors.Is(r.Err, issuer.ErrRefreshRevoked) {
		t.Fatalf("refresh in the revocation's batch = %+v, want ErrRefreshRevoked", r)
	}
	if row := f.row(p.Refresh.JTI); !row.Revoked || row.RetiredAt != 0 {
		t.Fatalf("row = %+v, want revoked and never rotated", row)
	}
}

func (f *fixture) releaseGate() {
	f.t.Helper()
	if _, err := f.engine.Request(f.gatePID, release{}, 10*time.Second).Result(); err != nil {
		f.t.Fatal(err)
	}
}

// TestRevokeRefreshRepeatedInOneBatch: logouts of one token that share a
// group commit write one event, and every one of them is answered with it.
func TestRevokeRefreshRepeatedInOneBatch(t *testing.T) {
	f := newFixture(t, fixtureOpts{gated: true})
	created := f.engine.Request(f.issuer, &issuer.CreateRefresh{Subject: "frank", BindingHash: binding}, 10*time.Second)
	f.waitArrived()
	f.releaseGate()
	r := result(t, created)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	p := r.Value.(*issuer.Pair)

	unblock := f.holdWriter()
	const n = 3
	resps := make([]*actor.Response, n)
	for i := range resps {
		resps[i] = f.engine.Request(f.revoker, &RevokeRefresh{JTI: p.Refresh.JTI, ExpiresAt: p.Refresh.ExpiresAt}, 10*time.Second)
		f.waitArrived()
	}
	f.releaseGate()
	unblock()

	var first string
	for i, resp := range resps {
		r := result(t, resp)
		ev, ok := r.Value.(*revocation.Event)
		if r.Err != nil || !ok {
			t.Fatalf("answer %d = %T (err %v), want the batch's *revocation.Event", i, r.Value, r.Err)
		}
		if i == 0 {
			first = ev.EventID
		} else if ev.EventID != first {
			t.Fatalf("answer %d event %s, want %s", i, ev.EventID, first)
		}
	}
	if got := f.eventsFor(p.Refresh.JTI); got != 1 {
		t.Fatalf("%d events for the refresh jti, want 1", got)
	}
}

// TestReuseRevocationOutlivesAccessTokens: the access tokens of a family
// revoked for reuse stay revoked until they expire, even when their iat was
// set ahead of the clock by subject revocations in the same second.
func TestReuseRevocationOutlivesAccessTokens(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	for range 3 {
		f.revoke(revocation.TypeSub, "gina")
	}
	a := f.createRefresh("gina")
	mustRefresh(f, a)
	if _, err := f.refresh(a); !errors.Is(err, issuer.ErrRefreshReused) {
		t.Fatalf("replay = %v, want ErrRefreshReused", err)
	}
	exp := parse(t, a.Access.Token).Exp * 1000
	evs, err := f.store.EventsAfter(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs {
		if e.Event.Value == a.Access.JTI {
			found = true
			if e.Event.ExpiresAt < exp {
				t.Fatalf("revocation of access token %s expires at %d, before the token (%d)", a.Access.JTI, e.Event.ExpiresAt, exp)
			}
		}
	}
	if !found {
		t.Fatal("no revocation of the family's access token")
	}
}
