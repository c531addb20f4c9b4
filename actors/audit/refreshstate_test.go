package audit

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
)

// replicate applies to dst every event of src's origin that dst lacks, as
// the intake does with a peer's delivery, and returns them.
func replicate(t *testing.T, src, dst *fixture) []revocation.Event {
	t.Helper()
	ctx := context.Background()
	seqs, err := dst.store.MaxSeqByOrigin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	origin := src.node
	evs, err := src.store.EventsFromOrigin(ctx, origin, seqs[origin], 10000)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		return nil
	}
	res := dst.submit(t, &ApplyRemote{Events: evs})
	if r, ok := res.(*Result); !ok || r.Err != nil {
		t.Fatalf("apply remote = %T %+v", res, res)
	}
	return evs
}

// row reads a refresh row of the fixture's store.
func (f *fixture) row(t *testing.T, jti string) (sqlitestore.RefreshToken, bool) {
	t.Helper()
	r, ok, err := f.store.GetRefresh(context.Background(), jti)
	if err != nil {
		t.Fatal(err)
	}
	return r, ok
}

func (f *fixture) create(t *testing.T, jti, family string, binding []byte) {
	t.Helper()
	now := time.Now()
	res := f.submit(t, &CreateRefresh{Row: sqlitestore.RefreshToken{
		JTI: jti, Subject: "alice", FamilyID: family, BindingHash: binding, AccessJTI: "acc-" + jti,
		IssuedAt: now.UnixMilli(), ExpiresAt: now.Add(time.Hour).UnixMilli(),
	}})
	if _, ok := res.(*RefreshCreated); !ok {
		t.Fatalf("create %s = %T %+v", jti, res, res)
	}
}

// rotate rotates old into next with the binding hash and returns the
// reply.
func (f *fixture) rotate(t *testing.T, old, next string, binding []byte, grace time.Duration) any {
	t.Helper()
	return f.submit(t, &RotateRefresh{
		OldJTI: old, Subject: "alice", BindingHash: binding, AccessJTI: "acc-" + next, ReuseGrace: grace, AccessTTL: time.Minute,
		Next: &NextRefresh{JTI: next, ExpiresAt: time.Now().Add(time.Hour)},
	})
}

func wantRotated(t *testing.T, res any) {
	t.Helper()
	if _, ok := res.(*RefreshRotated); !ok {
		t.Fatalf("rotate = %T %+v, want *RefreshRotated", res, res)
	}
}

// wantFamilyRevoked checks that every listed token and its access token
// are revoked on f, in its store and its index.
func wantFamilyRevoked(t *testing.T, f *fixture, jtis ...string) {
	t.Helper()
	for _, j := range jtis {
		if r, ok := f.row(t, j); !ok || !r.Revoked {
			t.Errorf("refresh %s: row %+v (known %v), want revoked", j, r, ok)
		}
		for _, v := range []string{j, "acc-" + j} {
			if f.ix.Check(v, "", "", 0) != index.JTI {
				t.Errorf("%s not revoked in the index", v)
			}
		}
	}
}

// TestRefreshAnyNode: a token created on A rotates on B; the retired token
// presented on C is reuse and the family ends revoked on all three.
func TestRefreshAnyNode(t *testing.T) {
	a, b, c := newNodeFixture(t, "a", Config{}), newNodeFixture(t, "b", Config{}), newNodeFixture(t, "c", Config{})
	bind := []byte("cluster-hash")
	a.create(t, "r1", "fam", bind)
	replicate(t, a, b)
	wantRotated(t, b.rotate(t, "r1", "r2", bind, 0))
	for _, dst := range []*fixture{a, c} {
		replicate(t, a, dst)
		replicate(t, b, dst)
	}
	for _, f := range []*fixture{a, b, c} {
		if r, ok := f.row(t, "r1"); !ok || r.RetiredAt == 0 || r.ReplacedBy != "r2" {
			t.Fatalf("r1 on %s = %+v, want retired into r2", f.node, r)
		}
		if r, ok := f.row(t, "r2"); !ok || r.Revoked || r.RetiredAt != 0 || string(r.BindingHash) != string(bind) {
			t.Fatalf("r2 on %s = %+v, want live", f.node, r)
		}
	}
	if res := c.rotate(t, "r1", "r3", bind, 0); !isFailed(res, ErrRefreshReused) {
		t.Fatalf("reuse on c = %T %+v, want ErrRefreshReused", res, res)
	}
	for _, dst := range []*fixture{a, b} {
		replicate(t, c, dst)
	}
	for _, f := range []*fixture{a, b, c} {
		wantFamilyRevoked(t, f, "r1", "r2")
	}
	if res := a.rotate(t, "r2", "r4", bind, 0); !isFailed(res, ErrRefreshRevoked) {
		t.Fatalf("r2 on a after the reuse = %T %+v, want ErrRefreshRevoked", res, res)
	}
}

func isFailed(res any, want error) bool {
	f, ok := res.(*Failed)
	return ok && errors.Is(f.Err, want)
}

// TestConcurrentRotationRevokesFamily: A and B rotate one token before
// either hears of the other's rotation; once each applies the other's
// event, both detect it and the family is revoked on both, whatever the
// order of delivery.
func TestConcurrentRotationRevokesFamily(t *testing.T) {
	for _, order := range []string{"a-first", "b-first"} {
		t.Run(order, func(t *testing.T) {
			a, b := newNodeFixture(t, "a", Config{AccessTTL: time.Minute}), newNodeFixture(t, "b", Config{AccessTTL: time.Minute})
			bind := []byte("h")
			a.create(t, "p", "fam", bind)
			replicate(t, a, b)
			wantRotated(t, a.rotate(t, "p", "ca", bind, 0))
			wantRotated(t, b.rotate(t, "p", "cb", bind, 0))
			if order == "a-first" {
				replicate(t, a, b)
				replicate(t, b, a)
			} else {
				replicate(t, b, a)
				replicate(t, a, b)
			}
			// The revocations each node emitted reach the other.
			replicate(t, a, b)
			replicate(t, b, a)
			for _, f := range []*fixture{a, b} {
				wantFamilyRevoked(t, f, "p", "ca", "cb")
			}
		})
	}
}

// TestGraceRetryAcrossNodes: a retry of the immediate predecessor within
// the grace period on another node (once the first rotation reached it)
// supersedes the first successor everywhere without revoking the family.
func TestGraceRetryAcrossNodes(t *testing.T) {
	a, b := newNodeFixture(t, "a", Config{}), newNodeFixture(t, "b", Config{})
	bind := []byte("h")
	a.create(t, "p", "fam", bind)
	wantRotated(t, a.rotate(t, "p", "c1", bind, time.Minute))
	replicate(t, a, b)
	wantRotated(t, b.rotate(t, "p", "c2", bind, time.Minute))
	replicate(t, b, a)
	for _, f := range []*fixture{a, b} {
		p, _ := f.row(t, "p")
		c1, _ := f.row(t, "c1")
		c2, _ := f.row(t, "c2")
		if p.Revoked || p.ReplacedBy != "c2" || c1.Revoked || c1.ReplacedBy != "c2" || c2.Revoked || c2.RetiredAt != 0 {
			t.Fatalf("on %s: p %+v, c1 %+v, c2 %+v; want p and c1 retired into live c2", f.node, p, c1, c2)
		}
	}
	wantRotated(t, a.rotate(t, "c2", "c3", bind, time.Minute))
}

// TestLegacyBindingKey: a row hashed under the node's former per-node key
// still rotates there, and its successor is stored under the cluster key.
func TestLegacyBindingKey(t *testing.T) {
	f := newFixture(t)
	f.create(t, "old", "fam", []byte("legacy-hash"))
	res := f.submit(t, &RotateRefresh{OldJTI: "old", Subject: "alice", BindingHash: []byte("cluster-hash"), LegacyBindingHash: []byte("legacy-hash"),
		AccessJTI: "acc", Next: &NextRefresh{JTI: "new", ExpiresAt: time.Now().Add(time.Hour)}})
	wantRotated(t, res)
	if r, _ := f.row(t, "new"); string(r.BindingHash) != "cluster-hash" {
		t.Fatalf("successor binding %q, want the cluster hash", r.BindingHash)
	}
	res = f.submit(t, &RotateRefresh{OldJTI: "new", Subject: "alice", BindingHash: []byte("other"), LegacyBindingHash: []byte("legacy-hash"), AccessJTI: "acc2"})
	if !isFailed(res, ErrBindingMismatch) {
		t.Fatalf("successor with only the legacy hash = %T %+v, want ErrBindingMismatch", res, res)
	}
}

// stateEvent returns a signed refresh_state event of origin "remote".
func stateEvent(t *testing.T, seq uint64, s revocation.RefreshState) revocation.Event {
	t.Helper()
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return rawStateEvent(t, seq, s.Token.JTI, data)
}

var remoteSigner atomic.Pointer[eventsig.Signer]

func rawStateEvent(t *testing.T, seq uint64, value string, data []byte) revocation.Event {
	t.Helper()
	sg := remoteSigner.Load()
	if sg == nil {
		var err error
		if sg, err = eventsig.NewSigner("remote-key", rand.Reader); err != nil {
			t.Fatal(err)
		}
		remoteSigner.Store(sg)
	}
	e := revocation.Event{EventID: uuid.NewString(), Type: revocation.TypeRefreshState, Value: value, TS: time.Now().UnixMilli(),
		ExpiresAt: time.Now().Add(time.Hour).UnixMilli(), Reason: refreshStateReason, Origin: "remote", Seq: seq, Data: data}
	if err := sg.SignBatch([]*revocation.Event{&e}); err != nil {
		t.Fatal(err)
	}
	return e
}

// srow is a replicated row of alice's family fam.
func srow(jti, parent, replacedBy string) revocation.RefreshRow {
	now := time.Now().UnixMilli()
	r := revocation.RefreshRow{JTI: jti, Subject: "alice", Family: "fam", Parent: parent, BindingHash: []byte("h"),
		IssuedAt: now, ExpiresAt: now + time.Hour.Milliseconds(), AccessJTI: "acc-" + jti, ReplacedBy: replacedBy}
	if replacedBy != "" {
		r.RetiredAt = now
	}
	return r
}

func rotation(token, parent string) revocation.RefreshState {
	p := srow(parent, "", token)
	return revocation.RefreshState{Token: srow(token, parent, ""), Parent: &p}
}

// TestApplyRefreshState: the receiving side's rules, one received event
// after a local set-up.
func TestApplyRefreshState(t *testing.T) {
	type want struct {
		inserted int
		live     []string // rows live (not retired, not revoked)
		retired  map[string]string
		revoked  []string // rows and their access tokens revoked
		unknown  []string
		bad      bool
	}
	bind := []byte("h")
	cases := []struct {
		name  string
		setup func(t *testing.T, f *fixture)
		event func(t *testing.T) revocation.Event
		want  want
	}{
		{"create", nil, func(t *testing.T) revocation.Event {
			return stateEvent(t, 1, revocation.RefreshState{Token: srow("r1", "", "")})
		}, want{inserted: 1, live: []string{"r1"}}},
		{"rotation of an unknown parent", nil, func(t *testing.T) revocation.Event {
			return stateEvent(t, 1, rotation("r2", "r1"))
		}, want{inserted: 1, live: []string{"r2"}, retired: map[string]string{"r1": "r2"}}},
		{"rotation of a local token", func(t *testing.T, f *fixture) { f.create(t, "r1", "fam", bind) }, func(t *testing.T) revocation.Event {
			return stateEvent(t, 1, rotation("r2", "r1"))
		}, want{inserted: 1, live: []string{"r2"}, retired: map[string]string{"r1": "r2"}}},
		{"concurrent rotation", func(t *testing.T, f *fixture) {
			f.create(t, "r1", "fam", bind)
			wantRotated(t, f.rotate(t, "r1", "mine", bind, 0))
		}, func(t *testing.T) revocation.Event {
			return stateEvent(t, 1, rotation("theirs", "r1"))
		}, want{inserted: 1, revoked: []string{"r1", "mine", "theirs"}}},
		{"successor of a logged-out token", func(t *testing.T, f *fixture) {
			f.create(t, "r1", "fam", bind)
			if _, ok := f.submit(t, &RevokeRefresh{JTI: "r1", ExpiresAt: time.Now().Add(time.Hour)}).(*Revoked); !ok {
				t.Fatal("logout")
			}
		}, func(t *testing.T) revocation.Event {
			return stateEvent(t, 1, rotation("r2", "r1"))
		}, want{inserted: 1, revoked: []string{"r2"}}},
		{"family revoked on reuse", func(t *testing.T, f *fixture) {
			f.create(t, "r1", "fam", bind)
			wantRotated(t, f.rotate(t, "r1", "r2", bind, 0))
			if res := f.rotate(t, "r1", "r3", bind, 0); !isFailed(res, ErrRefreshReused) {
				t.Fatalf("reuse = %T %+v", res, res)
			}
		}, func(t *testing.T) revocation.Event {
			return stateEvent(t, 1, rotation("late", "unknown-parent"))
		}, want{inserted: 1, revoked: []string{"r1", "r2", "late"}}},
		{"grace retry supersedes", func(t *testing.T, f *fixture) {
			f.create(t, "p", "fam", bind)
			wantRotated(t, f.rotate(t, "p", "c1", bind, time.Minute))
		}, func(t *testing.T) revocation.Event {
			s := rotation("c2", "p")
			sup := srow("c1", "p", "c2")
			s.Superseded = &sup
			return stateEvent(t, 1, s)
		}, want{inserted: 1, live: []string{"c2"}, retired: map[string]string{"p": "c2", "c1": "c2"}}},
		{"bad json", nil, func(t *testing.T) revocation.Event {
			return rawStateEvent(t, 1, "r1", []byte(`{"v":1,`))
		}, want{bad: true, unknown: []string{"r1"}}},
		{"future version", nil, func(t *testing.T) revocation.Event {
			return rawStateEvent(t, 1, "r1", []byte(`{"v":2,"token":{"jti":"r1"}}`))
		}, want{bad: true, unknown: []string{"r1"}}},
		{"value is not the token", nil, func(t *testing.T) revocation.Event {
			s := revocation.RefreshState{Token: srow("r1", "", "")}
			data, _ := s.Marshal()
			return rawStateEvent(t, 1, "other", data)
		}, want{bad: true, unknown: []string{"r1", "other"}}},
		{"oversized jti", nil, func(t *testing.T) revocation.Event {
			big := strings.Repeat("x", revocation.MaxValueLen+1)
			return rawStateEvent(t, 1, big, []byte(`{"v":1,"token":{"jti":"`+big+`","sub":"alice","family":"fam","binding_hash":"aA==","issued_at":1,"expires_at":2}}`))
		}, want{bad: true}},
		{"parent of another family", nil, func(t *testing.T) revocation.Event {
			s := rotation("r2", "r1")
			s.Parent.Family = "other"
			s.V = revocation.RefreshStateVersion
			data, _ := json.Marshal(s) // unchecked: a forged payload
			return rawStateEvent(t, 1, "r2", data)
		}, want{bad: true, unknown: []string{"r1", "r2"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var bad atomic.Int64
			f := newNodeFixture(t, "local", Config{AccessTTL: time.Minute, OnBadState: func(*revocation.Event, error) { bad.Add(1) }})
			if tc.setup != nil {
				tc.setup(t, f)
			}
			ev := tc.event(t)
			for round := range 2 { // the second delivery is a duplicate
				res := f.submit(t, &ApplyRemote{Events: []revocation.Event{ev}})
				r, ok := res.(*Result)
				if !ok || r.Err != nil {
					t.Fatalf("apply = %T %+v", res, res)
				}
				if want := tc.want.inserted; round > 0 && r.Inserted != 0 || round == 0 && r.Inserted != want {
					t.Fatalf("round %d: inserted %d, want %d", round, r.Inserted, want*(1-round))
				}
			}
			if got := bad.Load() > 0; got != tc.want.bad {
				t.Fatalf("bad payload reported %v, want %v", got, tc.want.bad)
			}
			for _, j := range tc.want.live {
				if r, ok := f.row(t, j); !ok || r.Revoked || r.RetiredAt != 0 {
					t.Errorf("%s = %+v (known %v), want live", j, r, ok)
				}
			}
			for j, by := range tc.want.retired {
				if r, ok := f.row(t, j); !ok || r.Revoked || r.RetiredAt == 0 || r.ReplacedBy != by {
					t.Errorf("%s = %+v (known %v), want retired into %s", j, r, ok, by)
				}
			}
			wantFamilyRevoked(t, f, tc.want.revoked...)
			for _, j := range tc.want.unknown {
				if _, ok := f.row(t, j); ok {
					t.Errorf("%s stored from a bad payload", j)
				}
			}
		})
	}
}

// TestRemoteRevocationsRevokeRefreshState: a received revoke_jti revokes
// the refresh row of its jti; one from a family revocation revokes the
// whole family here, with events for the rows the sender did not know.
func TestRemoteRevocationsRevokeRefreshState(t *testing.T) {
	a, b := newNodeFixture(t, "a", Config{AccessTTL: time.Minute}), newNodeFixture(t, "b", Config{AccessTTL: time.Minute})
	bind := []byte("h")
	a.create(t, "solo", "fam-solo", bind)
	a.create(t, "p", "fam", bind)
	replicate(t, a, b)
	// b rotates p into c; a hears nothing of it.
	wantRotated(t, b.rotate(t, "p", "c", bind, 0))
	if _, ok := a.submit(t, &RevokeRefresh{JTI: "solo", ExpiresAt: time.Now().Add(time.Hour)}).(*Revoked); !ok {
		t.Fatal("logout")
	}
	replicate(t, a, b)
	if r, _ := b.row(t, "solo"); !r.Revoked {
		t.Fatalf("solo on b = %+v, want revoked by the received revoke_jti", r)
	}
	// a revokes family fam on reuse of p after its own rotation, knowing
	// nothing of c: b revokes c too and tells a.
	wantRotated(t, a.rotate(t, "p", "ca", bind, 0))
	if res := a.rotate(t, "p", "cx", bind, 0); !isFailed(res, ErrRefreshReused) {
		t.Fatalf("reuse = %T %+v", res, res)
	}
	replicate(t, a, b)
	replicate(t, b, a)
	for _, f := range []*fixture{a, b} {
		wantFamilyRevoked(t, f, "p", "c", "ca")
	}
}

// TestRemoteSubjectRevocationRevokesRefreshState: a received revoke_sub
// revokes the subject's refresh rows issued up to its cutoff, as a local
// one does, so they cannot rotate here.
func TestRemoteSubjectRevocationRevokesRefreshState(t *testing.T) {
	a, b := newNodeFixture(t, "a", Config{}), newNodeFixture(t, "b", Config{})
	bind := []byte("h")
	b.create(t, "before", "fam", bind)
	if _, ok := a.submit(t, &CommitRevocation{Type: revocation.TypeSub, Value: "alice", MaxLifetime: time.Hour}).(*Revoked); !ok {
		t.Fatal("revoke_sub on a")
	}
	replicate(t, a, b)
	if r, _ := b.row(t, "before"); !r.Revoked {
		t.Fatalf("row issued before the received revoke_sub = %+v, want revoked", r)
	}
	if res := b.rotate(t, "before", "next", bind, 0); !isFailed(res, ErrRefreshRevoked) {
		t.Fatalf("rotate = %T %+v, want ErrRefreshRevoked", res, res)
	}
}
