package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/revocation"
)

// signedBatch returns n events of origin (seq from firstSeq) signed as one
// batch.
func signedBatch(t testing.TB, origin string, firstSeq uint64, n int) []*revocation.Event {
	t.Helper()
	evs := make([]*revocation.Event, n)
	for i := range evs {
		evs[i] = mkEvent(origin, firstSeq+uint64(i), int64(1000+i), 1e15)
		evs[i].Sig = nil
	}
	if err := benchSigner(t).SignBatch(evs); err != nil {
		t.Fatal(err)
	}
	return evs
}

func clones(evs []*revocation.Event) []*revocation.Event {
	out := make([]*revocation.Event, len(evs))
	for i, e := range evs {
		c := *e
		c.Sig = bytes.Clone(e.Sig)
		out[i] = &c
	}
	return out
}

func countRows(t testing.TB, s *Store, query string) int {
	t.Helper()
	var n int
	if err := s.r.QueryRowContext(context.Background(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// checkAllEvents asserts that every read path returns want, in id order.
func checkAllEvents(t *testing.T, s *Store, want []*revocation.Event) {
	t.Helper()
	ctx := context.Background()
	got, err := s.EventsAfter(ctx, 0, len(want)+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("EventsAfter returned %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(&got[i].Event, want[i]) {
			t.Fatalf("EventsAfter[%d] = %+v\nwant %+v", i, got[i].Event, *want[i])
		}
	}
	byOrigin := map[string][]*revocation.Event{}
	for _, e := range want {
		byOrigin[e.Origin] = append(byOrigin[e.Origin], e)
	}
	for origin, w := range byOrigin {
		got, err := s.EventsFromOrigin(ctx, origin, 0, 0)
		if err != nil || len(got) != len(w) {
			t.Fatalf("EventsFromOrigin(%s) = %d events, %v; want %d", origin, len(got), err, len(w))
		}
		for i := range w {
			if !reflect.DeepEqual(&got[i], w[i]) {
				t.Fatalf("EventsFromOrigin(%s)[%d] = %+v\nwant %+v", origin, i, got[i], *w[i])
			}
		}
	}
	// The view shows the same full signatures.
	rows, err := s.r.QueryContext(ctx, "SELECT event_id, sig FROM revocation_events_signed ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var id string
		var sig []byte
		if err := rows.Scan(&id, &sig); err != nil {
			t.Fatal(err)
		}
		if id != want[i].EventID || !bytes.Equal(sig, want[i].Sig) {
			t.Fatalf("revocation_events_signed row %d = %s, %d-byte sig; want %s, %d bytes", i, id, len(sig), want[i].EventID, len(want[i].Sig))
		}
	}
	if err := rows.Err(); err != nil || i != len(want) {
		t.Fatalf("revocation_events_signed: %d rows, %v", i, err)
	}
}

func TestBatchSignatureStoredOnce(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	const n = 100
	a := signedBatch(t, "a", 1, n)
	insertEvents(t, s, clones(a)...)
	if got := countRows(t, s, "SELECT COUNT(*) FROM event_signatures"); got != 1 {
		t.Fatalf("%d events of one batch stored %d signatures, want 1", n, got)
	}
	if got := countRows(t, s, "SELECT COUNT(*) FROM revocation_events WHERE sig_id IS NULL OR length(sig) > 8 + 32*7"); got != 0 {
		t.Fatalf("%d event rows hold more than their remainder", got)
	}
	if got := countRows(t, s, "SELECT MAX(length(sig)) FROM event_signatures"); got != eventsig.BatchSigSize {
		t.Fatalf("stored batch signature is %d bytes, want %d", got, eventsig.BatchSigSize)
	}

	// One batch spread over several transactions, interleaved with a second
	// batch and with a Sig of another format; duplicates re-inserted.
	b := signedBatch(t, "b", 1, 10)
	c := signedBatch(t, "c", 1, 10)
	odd := mkEvent("d", 1, 5, 1e15) // testSig: not eventsig's format
	unsigned := mkEvent("d", 2, 6, 1e15)
	unsigned.Sig = nil
	insertEvents(t, s, b[0], c[0], b[1], c[1], odd)
	commit(t, s, func(tx *Tx) {
		for _, e := range append(clones(a[:3]), b[0], c[1]) {
			if ok, err := tx.InsertEvent(e, 1); ok || err != nil {
				t.Fatalf("duplicate InsertEvent = %v, %v", ok, err)
			}
		}
	})
	insertEvents(t, s, append(clones(b[2:]), unsigned)...)
	insertEvents(t, s, clones(c[2:])...)
	if got := countRows(t, s, "SELECT COUNT(*) FROM event_signatures"); got != 3 {
		t.Fatalf("3 batches stored %d signatures, want 3", got)
	}
	if got := countRows(t, s, "SELECT COUNT(*) FROM revocation_events WHERE sig_id IS NULL"); got != 2 {
		t.Fatalf("%d rows without sig_id, want 2 (the foreign and the unsigned one)", got)
	}

	// A rolled back transaction's signature is not remembered.
	e := signedBatch(t, "e", 1, 3)
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.InsertEvent(e[0], 1); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	insertEvents(t, s, e[1:]...)

	want := append(append([]*revocation.Event{}, a...), b[0], c[0], b[1], c[1], odd)
	want = append(append(append(want, b[2:]...), unsigned), c[2:]...)
	want = append(want, e[1:]...)
	checkAllEvents(t, s, want)

	// The stored Sigs still verify.
	v := eventsig.NewVerifier()
	if err := v.Trust(benchSigner(t).KeyID(), benchSigner(t).PublicKey()); err != nil {
		t.Fatal(err)
	}
	got, err := s.EventsFromOrigin(ctx, "b", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if err := v.Verify(&got[i]); err != nil {
			t.Fatalf("stored event %d: %v", i, err)
		}
	}
}

// v1Schema is schema version 1 as shipped (migrations[0]), frozen here so
// the test keeps building a true v1 file even if migrations changes.
const v1Schema = `
CREATE TABLE revocation_events (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id    TEXT    NOT NULL UNIQUE,
	type        TEXT    NOT NULL,
	value       TEXT    NOT NULL,
	ts          INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	reason      TEXT    NOT NULL DEFAULT '',
	origin      TEXT    NOT NULL,
	seq         INTEGER NOT NULL,
	key_id      TEXT    NOT NULL DEFAULT '',
	alg         TEXT    NOT NULL DEFAULT '',
	sig         BLOB,
	received_at INTEGER NOT NULL,
	UNIQUE (origin, seq)
);
CREATE INDEX revocation_events_active
	ON revocation_events (expires_at, type, value, ts, event_id, origin, seq);
CREATE INDEX revocation_events_ts ON revocation_events (ts);
CREATE TABLE refresh_tokens (
	jti TEXT PRIMARY KEY, subject TEXT NOT NULL, family_id TEXT NOT NULL, parent_jti TEXT,
	binding_hash BLOB, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
	revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)), retired_at INTEGER,
	replaced_by TEXT, access_jti TEXT, revoked_reason TEXT
);
CREATE INDEX refresh_tokens_subject ON refresh_tokens (subject, issued_at);
CREATE INDEX refresh_tokens_family  ON refresh_tokens (family_id);
CREATE TABLE token_events (
	id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, event TEXT NOT NULL,
	subject TEXT NOT NULL DEFAULT '', jti TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE outbox_cursors (dest TEXT PRIMARY KEY, last_id INTEGER NOT NULL);
CREATE TABLE kv (name TEXT PRIMARY KEY, value BLOB NOT NULL);
PRAGMA user_version = 1;
`

// writeV1 creates a schema-v1 database at path holding evs the way a v1
// binary stored them: the full Sig in every row.
func writeV1(t *testing.T, path string, evs []*revocation.Event) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(v1Schema); err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if _, err := db.Exec(`INSERT INTO revocation_events
			(event_id, type, value, ts, expires_at, reason, origin, seq, key_id, alg, sig, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.EventID, string(e.Type), e.Value, e.TS, e.ExpiresAt, e.Reason, e.Origin, int64(e.Seq),
			e.KeyID, e.Alg, e.Sig, e.TS+1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO outbox_cursors VALUES ('kafka', 2)`); err != nil {
		t.Fatal(err)
	}
}

func TestMigrateFromV1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	old := signedBatch(t, "n1", 1, 5)
	old = append(old, mkEvent("n2", 1, 7, 1e15)) // foreign-format Sig
	writeV1(t, path, old)

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v := countRows(t, s, "PRAGMA user_version"); v != SchemaVersion {
		t.Fatalf("user_version after migration = %d, want %d", v, SchemaVersion)
	}
	// Old rows are untouched: full Sig in sig, no reference.
	if got := countRows(t, s, "SELECT COUNT(*) FROM revocation_events WHERE sig_id IS NULL AND length(sig) > 3309"); got != 5 {
		t.Fatalf("%d old rows kept their full sig, want 5", got)
	}
	if c, err := s.Cursor(ctx, "kafka"); c != 2 || err != nil {
		t.Fatalf("cursor after migration = %d, %v", c, err)
	}

	// New rows, one of them from the same batch as old rows (a resend with
	// a new event id) are split; old and new read back identically.
	newer := signedBatch(t, "n1", 6, 4)
	resent := *old[2]
	resent.EventID, resent.Seq = "resent", 100
	insertEvents(t, s, append(newer, &resent)...)
	if got := countRows(t, s, "SELECT COUNT(*) FROM event_signatures"); got != 2 {
		t.Fatalf("event_signatures has %d rows, want 2", got)
	}
	want := append(append([]*revocation.Event{}, old...), newer...)
	want = append(want, &resent)
	checkAllEvents(t, s, want)

	// The seed query still runs and sees every row.
	rows, err := s.r.QueryContext(ctx, "SELECT * FROM revocation_events ORDER BY ts DESC LIMIT 5;")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	n := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		n++
	}
	rows.Close()
	if n != 5 || !strings.Contains(strings.Join(cols, ","), "sig_id") {
		t.Fatalf("seed query: %d rows, columns %v", n, cols)
	}

	// Reopening a migrated file is a no-op.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	checkAllEvents(t, s2, want)
	active := 0
	if err := s2.ActiveRevocations(ctx, 0, func(*revocation.Event) error { active++; return nil }); err != nil || active != len(want) {
		t.Fatalf("ActiveRevocations after migration: %d, %v; want %d", active, err, len(want))
	}
}

func TestSchemaVersionMatchesMigrations(t *testing.T) {
	if SchemaVersion != len(migrations) {
		t.Fatalf("SchemaVersion = %d, %d migrations", SchemaVersion, len(migrations))
	}
}

func TestActiveRevocationsTypes(t *testing.T) {
	s, _ := openTest(t)
	want := map[string]revocation.Type{}
	var evs []*revocation.Event
	for i, typ := range []revocation.Type{revocation.TypeJTI, revocation.TypeSub, revocation.TypeKid, "revoke_future"} {
		e := mkEvent("n1", uint64(i+1), 1_700_000_000_123, 1e15)
		e.Type = typ
		evs = append(evs, e)
		want[e.Value] = typ
	}
	insertEvents(t, s, evs...)
	got := map[string]revocation.Type{}
	err := s.ActiveRevocations(context.Background(), 0, func(e *revocation.Event) error {
		if e.TS != 1_700_000_000_123 || e.ExpiresAt != 1e15 {
			t.Errorf("event %s: ts %d, expires_at %d", e.Value, e.TS, e.ExpiresAt)
		}
		got[e.Value] = e.Type
		return nil
	})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ActiveRevocations types = %v, %v; want %v", got, err, want)
	}
}
