package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	hremote "github.com/anthdm/hollywood/remote"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/revocd/revocd/revocation"
)

// memStore is an in-memory Store plus the commit side a node needs.
type memStore struct {
	mu  sync.Mutex
	evs map[string][]revocation.Event // by origin, sorted by seq
	ids map[string]bool
}

func newMemStore() *memStore {
	return &memStore{evs: map[string][]revocation.Event{}, ids: map[string]bool{}}
}

func (s *memStore) insert(events []revocation.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range events {
		if s.ids[e.EventID] {
			continue
		}
		s.ids[e.EventID] = true
		l := append(s.evs[e.Origin], e)
		slices.SortFunc(l, func(a, b revocation.Event) int { return int(a.Seq) - int(b.Seq) })
		s.evs[e.Origin] = l
	}
}

func (s *memStore) MaxSeqByOrigin(context.Context) (map[string]uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]uint64{}
	for o, l := range s.evs {
		out[o] = l[len(l)-1].Seq
	}
	return out, nil
}

func (s *memStore) EventsFromOrigin(_ context.Context, origin string, after uint64, limit int) ([]revocation.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []revocation.Event
	for _, e := range s.evs[origin] {
		if e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *memStore) CountEvents(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.ids)), nil
}

func (s *memStore) count(origin string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.evs[origin])
}

func (s *memStore) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

// sigFor is the fake signature the test Ingest accepts.
func sigFor(e revocation.Event) []byte {
	return []byte(fmt.Sprintf("sig:%s:%s:%d:%s", e.Origin, e.EventID, e.Seq, e.Value))
}

// paddedSigFor is sigFor padded to the length of a real signature
// (MaxSigLen), which the test Ingest accepts too.
func paddedSigFor(e revocation.Event) []byte {
	sig := sigFor(e)
	return append(sig, make([]byte, max(0, MaxSigLen-len(sig)))...)
}

func event(origin string, seq uint64) revocation.Event {
	e := revocation.Event{
		EventID: fmt.Sprintf("%s-%d", origin, seq), Type: revocation.TypeJTI, Value: fmt.Sprintf("jti-%s-%d", origin, seq),
		TS: time.Now().UnixMilli(), ExpiresAt: time.Now().Add(time.Hour).UnixMilli(), Origin: origin, Seq: seq,
		KeyID: origin + "-key", Alg: revocation.SigAlg,
	}
	e.Sig = sigFor(e)
	return e
}

var errForged = errors.New("forged event dropped")

// testNode is one replicating node over real hollywood remoting.
type testNode struct {
	t      *testing.T
	id     string
	addr   string
	engine *actor.Engine
	store  *memStore
	reg    *prometheus.Registry
	node   *Node
	seq    uint64

	mu       sync.Mutex
	dropped  int
	calls    int
	warnings []string // messages of WARN records logged by the node
}

// warnRecorder is a slog.Handler that keeps the messages of WARN and
// higher records.
type warnRecorder struct{ tn *testNode }

func (w warnRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w warnRecorder) Handle(_ context.Context, r slog.Record) error {
	w.tn.mu.Lock()
	w.tn.warnings = append(w.tn.warnings, r.Message)
	w.tn.mu.Unlock()
	return nil
}
func (w warnRecorder) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w warnRecorder) WithGroup(string) slog.Handler      { return w }

// warned reports whether the node logged a WARN record with message msg.
func (tn *testNode) warned(msg string) bool {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return slices.Contains(tn.warnings, msg)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// rawEngine starts a plain hollywood engine with remoting on addr: a
// sender that is no configured node.
func rawEngine(t *testing.T, addr string) *actor.Engine {
	t.Helper()
	r := hremote.New(addr, hremote.NewConfig())
	e, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(r))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop().Wait() })
	return e
}

// startTestNode starts node id on addr with peers (id → addr) and a fast
// sync interval; opts adjust the Config. store may be shared with an
// earlier incarnation.
func startTestNode(t *testing.T, id, addr string, peers map[string]string, store *memStore, opts ...func(*Config)) *testNode {
	t.Helper()
	if store == nil {
		store = newMemStore()
	}
	tn := &testNode{t: t, id: id, addr: addr, store: store, reg: prometheus.NewRegistry()}
	e, err := NewEngine(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	tn.engine = e
	var ps []Peer
	for pid, paddr := range peers {
		ps = append(ps, Peer{ID: pid, Addr: paddr})
	}
	slices.SortFunc(ps, func(a, b Peer) int { return cmpString(a.ID, b.ID) })
	max, _ := store.MaxSeqByOrigin(context.Background())
	tn.seq = max[id]
	cfg := Config{
		NodeID: id, Peers: ps, Engine: tn.engine, Store: store, Ingest: IngestFunc(tn.ingest),
		Logger: slog.New(warnRecorder{tn}), Registry: tn.reg,
		SyncInterval: 200 * time.Millisecond, ProbeInterval: 50 * time.Millisecond, StartupGrace: 2 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	n, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tn.node = n
	t.Cleanup(tn.stop)
	return tn
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ingest is the fake intake: events with a wrong signature are dropped.
func (tn *testNode) ingest(_ context.Context, events []revocation.Event, source string) error {
	var ok []revocation.Event
	var err error
	tn.mu.Lock()
	tn.calls++
	for _, e := range events {
		if string(e.Sig) != string(sigFor(e)) && string(e.Sig) != string(paddedSigFor(e)) {
			tn.dropped++
			err = fmt.Errorf("%w: %s from %s", errForged, e.EventID, source)
			continue
		}
		ok = append(ok, e)
	}
	tn.mu.Unlock()
	tn.store.insert(ok)
	return err
}

// commit stores n new local events and broadcasts them, as the audit
// writer does.
func (tn *testNode) commit(n int) []revocation.Event {
	return tn.commitWith(n, event)
}

// commitWith is commit with events made by mk.
func (tn *testNode) commitWith(n int, mk func(origin string, seq uint64) revocation.Event) []revocation.Event {
	evs := make([]revocation.Event, n)
	for i := range evs {
		tn.seq++
		evs[i] = mk(tn.id, tn.seq)
	}
	tn.store.insert(evs)
	tn.node.Broadcast(evs)
	return evs
}

func (tn *testNode) stop() {
	if tn.node == nil {
		return
	}
	tn.node.Close()
	tn.node = nil
}

// metric returns the value of the series name{label="value"} (label may
// be empty for any series), 0 when absent.
func (tn *testNode) metric(name, label, value string) float64 {
	tn.t.Helper()
	fams, err := tn.reg.Gather()
	if err != nil {
		tn.t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			match := label == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// eventually polls cond every 10 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
