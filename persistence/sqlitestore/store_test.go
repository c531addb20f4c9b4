package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/revocd/revocd/revocation"
)

func TestOpenPragmasAndSchema(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	for _, c := range []struct {
		db    *sql.DB
		query string
		want  string
	}{
		{s.w, "PRAGMA journal_mode", "wal"},
		{s.w, "PRAGMA synchronous", "2"}, // FULL
		{s.w, "PRAGMA user_version", strconv.Itoa(SchemaVersion)},
		{s.w, "PRAGMA query_only", "0"},
		{s.r, "PRAGMA synchronous", "2"},
		{s.r, "PRAGMA query_only", "1"},
		{s.r, "PRAGMA journal_mode", "wal"},
	} {
		var got string
		if err := c.db.QueryRowContext(ctx, c.query).Scan(&got); err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		if got != c.want {
			t.Errorf("%s = %q, want %q", c.query, got, c.want)
		}
	}
	// The read pool must refuse writes.
	if _, err := s.r.ExecContext(ctx, "INSERT INTO kv (name, value) VALUES ('x', x'00')"); err == nil {
		t.Error("write through the read pool succeeded")
	}
	// The start-up scan must be served by the covering index alone.
	var plan []string
	rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+activeSQL, 0)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	rows.Close()
	if p := strings.Join(plan, "; "); !strings.Contains(p, "COVERING INDEX revocation_events_active") {
		t.Errorf("ActiveRevocations plan = %q, want the covering index", p)
	}
}

func TestSeedQueries(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	var evs []*revocation.Event
	for i := 1; i <= 8; i++ {
		evs = append(evs, mkEvent("n1", uint64(i), int64(1000*i), 1e15))
	}
	insertEvents(t, s, evs...)
	commit(t, s, func(tx *Tx) {
		for i, jti := range []string{"r1", "r2", "r3"} {
			if err := tx.InsertRefresh(RefreshToken{JTI: jti, Subject: "alice", FamilyID: "f" + jti, IssuedAt: int64(i), ExpiresAt: 1e15}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := tx.RevokeRefresh("r2", "logout"); err != nil {
			t.Fatal(err)
		}
		if err := tx.InsertTokenEvent(TokenEvent{TS: 5, Event: "issue", Subject: "alice", JTI: "r1"}); err != nil {
			t.Fatal(err)
		}
	})

	// Seed query 1: the five newest revocations, newest first.
	rows, err := s.r.QueryContext(ctx, "SELECT * FROM revocation_events ORDER BY ts DESC LIMIT 5;")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	tsCol := -1
	for i, c := range cols {
		if c == "ts" {
			tsCol = i
		}
	}
	if tsCol < 0 {
		t.Fatalf("no ts column in %v", cols)
	}
	var gotTS []int64
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		gotTS = append(gotTS, vals[tsCol].(int64))
	}
	rows.Close()
	if want := []int64{8000, 7000, 6000, 5000, 4000}; !reflect.DeepEqual(gotTS, want) {
		t.Errorf("seed revocation query ts = %v, want %v", gotTS, want)
	}

	// Seed query 2: unrevoked refresh tokens.
	rows, err = s.r.QueryContext(ctx, "SELECT * FROM refresh_tokens WHERE revoked = 0;")
	if err != nil {
		t.Fatal(err)
	}
	var jtis []string
	for rows.Next() {
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		jtis = append(jtis, vals[0].(string))
	}
	rows.Close()
	if want := []string{"r1", "r3"}; !reflect.DeepEqual(jtis, want) {
		t.Errorf("seed refresh query = %v, want %v", jtis, want)
	}

	// token_events holds the audit row.
	var event, subject string
	if err := s.r.QueryRowContext(ctx, "SELECT event, subject FROM token_events").Scan(&event, &subject); err != nil {
		t.Fatal(err)
	}
	if event != "issue" || subject != "alice" {
		t.Errorf("token_events row = %q %q", event, subject)
	}
}

func TestInsertEvent(t *testing.T) {
	s, _ := openTest(t)
	base := mkEvent("n1", 1, 1000, 1e15)
	insertEvents(t, s, base)

	sameID := *base
	sameID.Seq = 2 // same event_id at a new position: still a duplicate
	otherID := *mkEvent("n1", 1, 2000, 1e15)
	otherOrigin := *mkEvent("n2", 1, 2000, 1e15)
	tooBig := *mkEvent("n1", math.MaxInt64+1, 2000, 1e15)

	for _, c := range []struct {
		name     string
		e        *revocation.Event
		inserted bool
		err      error
	}{
		{"exact duplicate", base, false, nil},
		{"duplicate event_id", &sameID, false, nil},
		{"seq taken by another event", &otherID, false, ErrSeqConflict},
		{"same seq other origin", &otherOrigin, true, nil},
		{"seq overflow", &tooBig, false, ErrSeqRange},
	} {
		t.Run(c.name, func(t *testing.T) {
			tx, err := s.Begin(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			ok, err := tx.InsertEvent(c.e, 1)
			if ok != c.inserted || !errors.Is(err, c.err) {
				t.Fatalf("InsertEvent = %v, %v; want %v, %v", ok, err, c.inserted, c.err)
			}
			// A failed statement leaves the transaction usable.
			if ok, err := tx.InsertEvent(mkEvent("n9", 1, 1, 1e15), 1); !ok || err != nil {
				t.Fatalf("insert after %v: %v, %v", c.err, ok, err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.w.Exec("DELETE FROM revocation_events WHERE origin = 'n9'"); err != nil {
				t.Fatal(err)
			}
		})
	}
	n, err := s.CountEvents(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("CountEvents = %d, %v; want 2", n, err)
	}
	got, err := s.EventsFromOrigin(context.Background(), "n1", 0, 0)
	if err != nil || len(got) != 1 || !reflect.DeepEqual(&got[0], base) {
		t.Fatalf("stored event = %+v, %v; want %+v", got, err, base)
	}
}

func TestEventsAfterAndOrigins(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	if id, err := s.LastEventID(ctx); id != 0 || err != nil {
		t.Fatalf("LastEventID on empty = %d, %v", id, err)
	}
	if m, err := s.MaxSeqByOrigin(ctx); len(m) != 0 || err != nil {
		t.Fatalf("MaxSeqByOrigin on empty = %v, %v", m, err)
	}
	// Insert interleaved origins, with ts deliberately out of order: the
	// feed follows commit order (id), not ts.
	var all []*revocation.Event
	for i := 1; i <= 5; i++ {
		for _, o := range []string{"b", "a", "c"} {
			all = append(all, mkEvent(o, uint64(i), int64(10000-i*10), 1e15))
		}
	}
	insertEvents(t, s, all[:7]...)
	insertEvents(t, s, all[7:]...)

	for _, c := range []struct {
		after int64
		limit int
		want  []int // indexes into all
	}{
		{0, 0, seq(0, 15)},
		{0, 4, seq(0, 4)},
		{6, 3, seq(6, 9)},
		{14, 10, seq(14, 15)},
		{15, 10, nil},
	} {
		got, err := s.EventsAfter(ctx, c.after, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(c.want) {
			t.Fatalf("EventsAfter(%d, %d) returned %d events, want %d", c.after, c.limit, len(got), len(c.want))
		}
		for i, w := range c.want {
			if got[i].ID != int64(w+1) || !reflect.DeepEqual(&got[i].Event, all[w]) || got[i].ReceivedAt != all[w].TS+1 {
				t.Errorf("EventsAfter(%d)[%d] = %d %+v, want id %d %+v", c.after, i, got[i].ID, got[i].Event, w+1, all[w])
			}
		}
	}

	if id, err := s.LastEventID(ctx); id != 15 || err != nil {
		t.Fatalf("LastEventID = %d, %v", id, err)
	}
	m, err := s.MaxSeqByOrigin(ctx)
	if err != nil || !reflect.DeepEqual(m, map[string]uint64{"a": 5, "b": 5, "c": 5}) {
		t.Fatalf("MaxSeqByOrigin = %v, %v", m, err)
	}
	evs, err := s.EventsFromOrigin(ctx, "a", 2, 2)
	if err != nil || len(evs) != 2 || evs[0].Seq != 3 || evs[1].Seq != 4 || evs[0].Origin != "a" {
		t.Fatalf("EventsFromOrigin(a, 2, 2) = %+v, %v", evs, err)
	}
	if evs, err := s.EventsFromOrigin(ctx, "zz", 0, 10); len(evs) != 0 || err != nil {
		t.Fatalf("EventsFromOrigin(unknown) = %v, %v", evs, err)
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestActiveRevocationsSkipsExpired(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	const now = 1_000_000
	live := map[string]*revocation.Event{}
	var evs []*revocation.Event
	for i, exp := range []int64{now - 1, now, now + 1, now + 500, 1, now * 10} {
		e := mkEvent("n1", uint64(i+1), 10, exp)
		e.Type = []revocation.Type{revocation.TypeJTI, revocation.TypeSub, revocation.TypeKid}[i%3]
		evs = append(evs, e)
		if exp > now {
			live[e.Value] = e
		}
	}
	insertEvents(t, s, evs...)

	got := map[string]revocation.Event{}
	err := s.ActiveRevocations(ctx, now, func(e *revocation.Event) error {
		got[e.Value] = *e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(live) {
		t.Fatalf("ActiveRevocations returned %d events, want %d", len(got), len(live))
	}
	for id, w := range live {
		// Only what audit.ApplyEvent needs.
		want := revocation.Event{Type: w.Type, Value: w.Value, TS: w.TS, ExpiresAt: w.ExpiresAt}
		if !reflect.DeepEqual(got[id], want) {
			t.Errorf("event %s = %+v, want %+v", id, got[id], want)
		}
	}

	stop := errors.New("stop")
	calls := 0
	err = s.ActiveRevocations(ctx, now, func(*revocation.Event) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("callback error: got %v after %d calls", err, calls)
	}
}

func TestCursorsAndKV(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	if c, err := s.Cursor(ctx, "kafka"); c != 0 || err != nil {
		t.Fatalf("Cursor(unset) = %d, %v", c, err)
	}
	if _, ok, err := s.GetKV(ctx, "sign"); ok || err != nil {
		t.Fatalf("GetKV(unset) = %v, %v", ok, err)
	}
	key := bytes.Repeat([]byte{0xAB}, 4032)
	commit(t, s, func(tx *Tx) {
		for _, err := range []error{
			tx.SetCursor("kafka", 10), tx.SetCursor("redis", 3), tx.SetCursor("kafka", 12),
			tx.PutKV("sign", []byte("old")), tx.PutKV("sign", key), tx.PutKV("empty", nil),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
	for dest, want := range map[string]int64{"kafka": 12, "redis": 3, "peer:x": 0} {
		if c, err := s.Cursor(ctx, dest); c != want || err != nil {
			t.Errorf("Cursor(%s) = %d, %v; want %d", dest, c, err, want)
		}
	}
	for name, want := range map[string][]byte{"sign": key, "empty": {}} {
		v, ok, err := s.GetKV(ctx, name)
		if !ok || err != nil || !bytes.Equal(v, want) || v == nil {
			t.Errorf("GetKV(%s) = %d bytes, %v, %v", name, len(v), ok, err)
		}
	}
}

func TestRollbackAndTxDone(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.InsertEvent(mkEvent("n1", 1, 1, 1e15), 1); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("second Rollback: %v", err)
	}
	if n, _ := s.CountEvents(ctx); n != 0 {
		t.Fatalf("rolled back event is visible: %d", n)
	}
	for name, err := range map[string]error{
		"Commit":      tx.Commit(),
		"SetCursor":   tx.SetCursor("x", 1),
		"PutKV":       tx.PutKV("x", nil),
		"InsertToken": tx.InsertTokenEvent(TokenEvent{}),
	} {
		if !errors.Is(err, ErrTxDone) {
			t.Errorf("%s after Rollback = %v, want ErrTxDone", name, err)
		}
	}
	// The writer is free again.
	insertEvents(t, s, mkEvent("n1", 1, 1, 1e15))
}

func TestReopenKeepsEverything(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	e := mkEvent("n1", 1, 1, 1e15)
	insertEvents(t, s, e)
	commit(t, s, func(tx *Tx) {
		tx.SetCursor("kafka", 1)
		tx.PutKV("sign", []byte("key"))
		tx.InsertRefresh(RefreshToken{JTI: "r1", Subject: "alice", FamilyID: "f", IssuedAt: 1, ExpiresAt: 2})
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	evs, err := s2.EventsAfter(ctx, 0, 10)
	if err != nil || len(evs) != 1 || !reflect.DeepEqual(&evs[0].Event, e) {
		t.Fatalf("events after reopen = %+v, %v", evs, err)
	}
	if c, _ := s2.Cursor(ctx, "kafka"); c != 1 {
		t.Errorf("cursor after reopen = %d", c)
	}
	if v, ok, _ := s2.GetKV(ctx, "sign"); !ok || string(v) != "key" {
		t.Errorf("kv after reopen = %q, %v", v, ok)
	}
	if r, ok, _ := s2.GetRefresh(ctx, "r1"); !ok || r.Subject != "alice" {
		t.Errorf("refresh after reopen = %+v, %v", r, ok)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, p := range []string{"", "a?b.db", ":memory:", "file:x.db"} {
		if _, err := Open(ctx, p); !errors.Is(err, ErrBadPath) {
			t.Errorf("Open(%q) = %v, want ErrBadPath", p, err)
		}
	}
	// A missing directory is created (TestOpenCreatesOwnerOnlyFiles); one
	// that cannot be is ErrDirectory.
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, filepath.Join(plain, "missing", "x.db")); !errors.Is(err, ErrDirectory) ||
		!strings.HasPrefix(err.Error(), "sqlitestore: open ") {
		t.Errorf("Open(uncreatable dir) = %v, want ErrDirectory", err)
	}

	// A database from a newer schema is refused, not downgraded.
	path := filepath.Join(dir, "new.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(ctx, path); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open(newer schema) = %v, want ErrSchemaTooNew", err)
	}
}

func TestBeginContextCancelRollsBack(t *testing.T) {
	s, _ := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.InsertEvent(mkEvent("n1", 1, 1, 1e15), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := tx.Commit(); err == nil {
		t.Fatal("Commit after the Begin context was cancelled succeeded")
	}
	if n, _ := s.CountEvents(context.Background()); n != 0 {
		t.Fatalf("cancelled transaction left %d events", n)
	}
	insertEvents(t, s, mkEvent("n1", 1, 1, 1e15)) // the writer is free again
}

func TestCheckpointAndPing(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	insertEvents(t, s, mkEvent("n1", 1, 1, 1e15))
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
