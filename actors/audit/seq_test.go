package audit

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/google/uuid"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
)

// TestSequenceUnreadableAtStart (issue #13 item 2): a writer that cannot
// read its event sequence when it starts must not commit with a guessed
// one. The old writer logged the error and continued from 0, so its next
// revocation reused sequence number 1 of an origin whose log already held
// 1..3 (peers' digests and the outboxes key on it). Now it refuses commits
// until the sequence reads again, then continues at 4.
func TestSequenceUnreadableAtStart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	store, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	signer, err := eventsig.NewSigner("k1", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	spawn := func(name string) *actor.PID {
		pid := e.Spawn(New(Config{Store: store, Signer: signer, Index: index.New(index.Options{}), Origin: "node-1"}), name)
		t.Cleanup(func() { <-e.Poison(pid).Done() })
		return pid
	}
	revoke := func(pid *actor.PID) (*revocation.Event, error) {
		res, err := e.Request(pid, &CommitRevocation{Type: revocation.TypeJTI, Value: uuid.NewString(), MaxLifetime: time.Hour}, 10*time.Second).Result()
		if err != nil {
			return nil, err
		}
		switch r := res.(type) {
		case *Revoked:
			return &r.Event, nil
		case *Failed:
			return nil, r.Err
		}
		t.Fatalf("reply %T", res)
		return nil, nil
	}

	first := spawn("first")
	for want := uint64(1); want <= 3; want++ {
		ev, err := revoke(first)
		if err != nil || ev.Seq != want {
			t.Fatalf("revocation %d: %+v, %v", want, ev, err)
		}
	}
	<-e.Poison(first).Done()

	db, err := sql.Open("sqlite", path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	exec(`ALTER TABLE revocation_events RENAME TO revocation_events_away`)
	second := spawn("second")
	// Answered after Started ran (it runs before the first message).
	if _, err := revoke(second); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("revocation with the log unreadable: %v, want ErrUnavailable", err)
	}
	exec(`ALTER TABLE revocation_events_away RENAME TO revocation_events`)
	ev, err := revoke(second)
	if err != nil {
		t.Fatalf("revocation once the log reads again: %v", err)
	}
	if ev.Seq != 4 {
		t.Fatalf("next revocation got seq %d, want 4 (the log holds 1..3)", ev.Seq)
	}
}
