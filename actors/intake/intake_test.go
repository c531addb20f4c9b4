package intake

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/revocd/revocd/actors/audit"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/internal/backoff"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
)

// fixture is a node's receive path on a real SQLite file: the audit writer
// actor, the intake actor and a trusted remote signer ("node-2").
type fixture struct {
	store  *sqlitestore.Store
	path   string
	ix     *index.Index
	client Client
	remote *eventsig.Signer
	reg    *prometheus.Registry
	seq    uint64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "revocation.db")
	store, err := sqlitestore.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	local, err := eventsig.NewSigner("node-1-key", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	remote, err := eventsig.NewSigner("node-2-key", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v := eventsig.NewVerifier()
	if err := v.Trust(remote.KeyID(), remote.PublicKey()); err != nil {
		t.Fatal(err)
	}
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	ix := index.New(index.Options{})
	auditPID := engine.Spawn(audit.New(audit.Config{Store: store, Signer: local, Index: ix, Origin: "node-1"}), "audit")
	reg := prometheus.NewRegistry()
	p, err := New(Options{
		Origin: "node-1", Verifier: v, Replay: eventsig.NewReplayGuard(time.Minute, nil), Index: ix,
		Audit: auditPID, Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	pid := engine.Spawn(p, "intake")
	t.Cleanup(func() {
		<-engine.Poison(pid).Done()
		<-engine.Poison(auditPID).Done()
	})
	return &fixture{store: store, path: path, ix: ix, client: Client{Engine: engine, PID: pid}, remote: remote, reg: reg}
}

// event returns a fresh revocation signed by node-2.
func (f *fixture) event(t *testing.T) revocation.Event {
	t.Helper()
	f.seq++
	e := &revocation.Event{
		EventID: uuid.NewString(), Type: revocation.TypeJTI, Value: "jti-" + uuid.NewString(),
		TS: time.Now().UnixMilli(), ExpiresAt: time.Now().Add(time.Hour).UnixMilli(),
		Origin: "node-2", Seq: f.seq,
	}
	if err := f.remote.SignBatch([]*revocation.Event{e}); err != nil {
		t.Fatal(err)
	}
	return *e
}

// failCommits makes every transaction that inserts a revocation event fail
// (a trigger added from another connection, as a busy or full database
// would) until the returned function is called.
func (f *fixture) failCommits(t *testing.T) (heal func()) {
	t.Helper()
	db, err := sql.Open("sqlite", f.path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TRIGGER inject_failure BEFORE INSERT ON revocation_events
		BEGIN SELECT RAISE(ABORT, 'injected failure'); END`); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if _, err := db.Exec(`DROP TRIGGER inject_failure`); err != nil {
			t.Fatal(err)
		}
	}
}

// stored reports whether the event id is in the audit log.
func (f *fixture) stored(t *testing.T, id string) bool {
	t.Helper()
	evs, err := f.store.EventsFromOrigin(context.Background(), "node-2", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.EventID == id {
			return true
		}
	}
	return false
}

// counter returns the value of the counter name with the given labels.
func (f *fixture) counter(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// dropped returns revocd_events_dropped_total{source, reason}.
func (f *fixture) dropped(t *testing.T, source, reason string) float64 {
	return f.counter(t, "revocd_events_dropped_total", map[string]string{"source": source, "reason": reason})
}

// TestIngestFailedCommitIsNotReplay is issue #12 item 1: an event whose
// audit commit failed must be taken when it comes again (Kafka redelivery,
// peer resend), not dropped as a replay; only a durable event is a replay.
// An intake that recorded the id before the commit dropped the second
// delivery as "replay" and the event never reached SQLite.
func TestIngestFailedCommitIsNotReplay(t *testing.T) {
	for _, source := range []string{"kafka", "peer:node-2"} {
		t.Run(source, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			ev := f.event(t)

			heal := f.failCommits(t)
			err := f.client.Ingest(ctx, []revocation.Event{ev}, source)
			if err == nil || errors.Is(err, ErrDropped) || !errors.Is(err, ErrCommit) || !errors.Is(err, audit.ErrUnavailable) {
				t.Fatalf("ingest with a failing audit log: err = %v, want ErrCommit wrapping audit.ErrUnavailable and not ErrDropped", err)
			}
			if f.stored(t, ev.EventID) {
				t.Fatal("event stored although its commit failed")
			}
			heal()

			if err := f.client.Ingest(ctx, []revocation.Event{ev}, source); err != nil {
				t.Fatalf("second delivery after the failed commit: %v", err)
			}
			if !f.stored(t, ev.EventID) {
				t.Fatal("event missing from SQLite after the successful retry")
			}
			if n := f.dropped(t, sourceLabel(source), "replay"); n != 0 {
				t.Fatalf("%v events counted as replay, want 0", n)
			}

			// Now durable: a third delivery is a replay.
			if err := f.client.Ingest(ctx, []revocation.Event{ev}, source); !errors.Is(err, ErrDropped) {
				t.Fatalf("delivery of a durable event: err = %v, want ErrDropped", err)
			}
			if n := f.dropped(t, sourceLabel(source), "replay"); n != 1 {
				t.Fatalf("%v events counted as replay, want 1", n)
			}
		})
	}
}

// TestIngestBatchPartlyDurable: a batch repeating an event and holding one
// already durable commits the new one once and counts the others as
// replays.
func TestIngestBatchPartlyDurable(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	old, fresh := f.event(t), f.event(t)
	if err := f.client.Ingest(ctx, []revocation.Event{old}, "peer:node-2"); err != nil {
		t.Fatal(err)
	}
	err := f.client.Ingest(ctx, []revocation.Event{old, fresh, fresh}, "peer:node-2")
	if !errors.Is(err, ErrDropped) {
		t.Fatalf("err = %v, want ErrDropped", err)
	}
	if !f.stored(t, fresh.EventID) {
		t.Fatal("fresh event of a batch with replays not stored")
	}
	if n := f.dropped(t, "peer", "replay"); n != 2 {
		t.Fatalf("%v replays counted, want 2", n)
	}
}

// TestIngestReply: the typed reply counts what happened to each event of
// a delivery, and the counters carry the labels the e2e tests read.
func TestIngestReply(t *testing.T) {
	f := newFixture(t)
	good, forged := f.event(t), f.event(t)
	forged.Value = "someone-else"
	own := f.event(t)
	own.Origin = "node-1"
	res, err := f.client.Engine.Request(f.client.PID, &Ingest{Events: []revocation.Event{good, forged, own}, Source: "kafka"}, 10*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	r, ok := res.(*Ingested)
	if !ok {
		t.Fatalf("reply %T, want *Ingested", res)
	}
	if r.Err != nil || r.Applied != 1 || r.Own != 1 || r.DroppedTotal() != 1 || r.Dropped[eventsig.DropBadSignature] != 1 {
		t.Fatalf("reply %+v, want 1 applied, 1 own, 1 bad_signature", r)
	}
	if !errors.Is(r.AsError(), ErrDropped) {
		t.Fatalf("AsError = %v, want ErrDropped", r.AsError())
	}
	if f.ix.Check(good.Value, "", "", 0) == index.None {
		t.Fatal("accepted event not in the index")
	}
	if f.ix.Check(forged.Value, "", "", 0) != index.None {
		t.Fatal("forged event applied to the index")
	}
	if n := f.counter(t, "revocd_events_received_total", map[string]string{"source": "kafka"}); n != 1 {
		t.Fatalf("received{kafka} = %v, want 1", n)
	}
	if n := f.dropped(t, "kafka", "bad_signature"); n != 1 {
		t.Fatalf("dropped{kafka,bad_signature} = %v, want 1", n)
	}
}

// TestNewValidates: every required option is checked up front.
func TestNewValidates(t *testing.T) {
	engine, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	full := func() Options {
		return Options{Origin: "n", Verifier: eventsig.NewVerifier(), Replay: eventsig.NewReplayGuard(0, nil),
			Index: index.New(index.Options{}), Audit: actor.NewPID(engine.Address(), "audit"), Registerer: prometheus.NewRegistry()}
	}
	cases := []struct {
		name string
		edit func(*Options)
	}{
		{"no origin", func(o *Options) { o.Origin = "" }},
		{"no verifier", func(o *Options) { o.Verifier = nil }},
		{"no replay guard", func(o *Options) { o.Replay = nil }},
		{"no index", func(o *Options) { o.Index = nil }},
		{"no audit", func(o *Options) { o.Audit = nil }},
		{"no registerer", func(o *Options) { o.Registerer = nil }},
		{"negative timeout", func(o *Options) { o.CommitTimeout = -1 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := full()
			tc.edit(&o)
			if _, err := New(o); !errors.Is(err, ErrOptions) {
				t.Fatalf("New = %v, want ErrOptions", err)
			}
		})
	}
	if _, err := New(full()); err != nil {
		t.Fatalf("valid options: %v", err)
	}
}

// signalHandler is a slog.Handler that reports each record's message on a
// channel (non-blocking), so a test can wait for a logged retry.
type signalHandler struct{ msgs chan string }

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.msgs <- r.Message:
	default:
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// TestHandlerRetriesUntilDurable: the Kafka consumer's handler returns
// (letting the consumer commit the record's offset) only once the event is
// in SQLite, even when the audit commit fails first; if the node stops
// meanwhile it returns ctx's error, which the consumer never commits. With
// an intake that recorded ids before the commit, the retry came back as
// ErrDropped ("replay"): the consumer skipped the record and committed its
// offset with the event lost.
func TestHandlerRetriesUntilDurable(t *testing.T) {
	cases := []struct {
		name string
		stop bool // the node stops while the commit is failing
	}{
		{name: "commit fails, then succeeds"},
		{name: "node stops while the commit fails", stop: true},
	}
	retry := backoff.Policy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ev := f.event(t)
			logs := make(chan string, 16)
			handle := f.client.Handler("kafka", retry, slog.New(signalHandler{logs}))
			heal := f.failCommits(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- handle(ctx, &ev) }()

			select {
			case msg := <-logs:
				if msg != "kafka: ingest failed; retrying" {
					t.Fatalf("logged %q, want the retry warning", msg)
				}
			case err := <-done:
				t.Fatalf("handler returned %v while the audit log was failing", err)
			case <-time.After(30 * time.Second):
				t.Fatal("no failed attempt within 30 s")
			}
			if tc.stop {
				cancel()
			} else {
				heal()
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("handler did not return within 30 s")
			}
			if tc.stop {
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("handler stopped with %v, want context.Canceled (offset not committed)", err)
				}
				heal()
				// The record is redelivered after the restart: it is taken.
				if err := f.client.Handler("kafka", retry, slog.New(signalHandler{logs}))(context.Background(), &ev); err != nil {
					t.Fatalf("redelivery after the stop: %v", err)
				}
			} else if err != nil {
				t.Fatalf("handler returned %v, want nil once the commit succeeded", err)
			}
			if !f.stored(t, ev.EventID) {
				t.Fatal("event not in SQLite although the handler let its offset be committed")
			}
			if n := f.dropped(t, "kafka", "replay"); n != 0 {
				t.Fatalf("%v events counted as replay, want 0", n)
			}
		})
	}
}

// TestIngestUnansweredCommit: a commit the audit writer never answers
// does not leave the requester waiting forever, and is never reported
// durable: the intake answers ErrCommit once CommitTimeout passes, or
// ErrStopped when it stops first; in both cases nothing is recorded as
// seen, so the next delivery is not a replay.
func TestIngestUnansweredCommit(t *testing.T) {
	cases := []struct {
		name    string
		timeout time.Duration
		stop    bool
		want    error
	}{
		{name: "commit timeout", timeout: 50 * time.Millisecond, want: ErrCommit},
		{name: "intake stops", timeout: time.Hour, stop: true, want: ErrStopped},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t) // for the signer only
			engine := f.client.Engine
			// An audit writer that takes commits and never answers.
			hole := engine.SpawnFunc(func(*actor.Context) {}, "blackhole")
			v := eventsig.NewVerifier()
			if err := v.Trust(f.remote.KeyID(), f.remote.PublicKey()); err != nil {
				t.Fatal(err)
			}
			replay := eventsig.NewReplayGuard(time.Minute, nil)
			p, err := New(Options{Origin: "node-1", Verifier: v, Replay: replay, Index: index.New(index.Options{}),
				Audit: hole, Registerer: prometheus.NewRegistry(), CommitTimeout: tc.timeout})
			if err != nil {
				t.Fatal(err)
			}
			pid := engine.Spawn(p, "intake-"+tc.name)
			ev := f.event(t)
			// The command is in the inbox before the poison pill.
			resp := engine.Request(pid, &Ingest{Events: []revocation.Event{ev}, Source: "kafka"}, 30*time.Second)
			if tc.stop {
				<-engine.Poison(pid).Done()
			}
			res, err := resp.Result()
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			r := res.(*Ingested)
			if !errors.Is(r.Err, tc.want) || r.Applied != 0 {
				t.Fatalf("reply %+v, want Err %v and nothing applied", r, tc.want)
			}
			if replay.Seen(ev.EventID) {
				t.Fatal("an unacknowledged event was recorded as seen")
			}
		})
	}
}

// TestCommitAnswersMatchedByRef: the intake commits with a plain send of
// ApplyRemote (itself the sender, the delivery's id in Ref) and matches the
// audit writer's Results by Ref.ID, whatever their order: here the writer
// answers two deliveries in reverse order, the later one failing. On the
// old code each commit was an Engine.Request from a goroutine, so the
// writer saw a temporary response PID as the sender and no Ref.
func TestCommitAnswersMatchedByRef(t *testing.T) {
	f := newFixture(t) // for the signer only
	engine := f.client.Engine
	type taken struct {
		sender *actor.PID
		m      *audit.ApplyRemote
	}
	got := make(chan taken, 2)
	// An audit writer that holds two commits, then answers the second
	// (failed) before the first (durable).
	var pending []taken
	writer := engine.SpawnFunc(func(c *actor.Context) {
		m, ok := c.Message().(*audit.ApplyRemote)
		if !ok {
			return
		}
		pending = append(pending, taken{c.Sender(), m})
		got <- taken{c.Sender(), m}
		if len(pending) == 2 {
			c.Send(pending[1].sender, &audit.Result{Ref: pending[1].m.Ref, Err: audit.ErrUnavailable})
			c.Send(pending[0].sender, &audit.Result{Ref: pending[0].m.Ref, Inserted: len(pending[0].m.Events)})
		}
	}, "holding-writer")
	v := eventsig.NewVerifier()
	if err := v.Trust(f.remote.KeyID(), f.remote.PublicKey()); err != nil {
		t.Fatal(err)
	}
	replay := eventsig.NewReplayGuard(time.Minute, nil)
	p, err := New(Options{Origin: "node-1", Verifier: v, Replay: replay, Index: index.New(index.Options{}),
		Audit: writer, Registerer: prometheus.NewRegistry(), CommitTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	pid := engine.Spawn(p, "intake-ref")
	defer func() { <-engine.Poison(pid).Done() }()

	first, second := f.event(t), f.event(t)
	r1 := engine.Request(pid, &Ingest{Events: []revocation.Event{first}, Source: "kafka"}, 30*time.Second)
	// The second delivery is sent once the first reached the writer, so
	// the writer's pending[0] is the first.
	select {
	case tk := <-got:
		if tk.sender == nil || !tk.sender.Equals(pid) || tk.m.ID == 0 {
			t.Fatalf("ApplyRemote sent by %v with Ref %+v, want a plain send from the intake %v carrying its delivery id", tk.sender, tk.m.Ref, pid)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no commit reached the writer")
	}
	r2 := engine.Request(pid, &Ingest{Events: []revocation.Event{second}, Source: "peer:node-2"}, 30*time.Second)
	for _, tc := range []struct {
		name    string
		resp    *actor.Response
		ev      revocation.Event
		durable bool
	}{
		{"first (answered last, durable)", r1, first, true},
		{"second (answered first, failed)", r2, second, false},
	} {
		res, err := tc.resp.Result()
		if err != nil {
			t.Fatalf("%s: no answer: %v", tc.name, err)
		}
		r := res.(*Ingested)
		if tc.durable != (r.Err == nil) || tc.durable != (r.Applied == 1) || (!tc.durable && !errors.Is(r.Err, ErrCommit)) {
			t.Fatalf("%s: reply %+v, want durable=%v", tc.name, r, tc.durable)
		}
		if replay.Seen(tc.ev.EventID) != tc.durable {
			t.Fatalf("%s: recorded as seen = %v, want %v", tc.name, !tc.durable, tc.durable)
		}
	}
}
