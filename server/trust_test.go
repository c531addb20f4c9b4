package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/revocd/revocd/actors/intake"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
)

// TestKafkaTrustCheck: events refused for an untrusted key (or a bad
// signature) turn /ready's kafka_trust check not ok naming the origins and
// the fix; other refusals and other errors do not; an origin whose events
// verify again is cleared; the origins remembered are bounded.
func TestKafkaTrustCheck(t *testing.T) {
	dropped := func(r eventsig.DropReason) error {
		return (&intake.Ingested{Dropped: map[eventsig.DropReason]int{r: 1}}).AsError()
	}
	tests := []struct {
		name      string
		outcomes  map[string]error // origin → handler outcome, applied in order of steps
		steps     []string
		wantOK    bool
		wantNames []string
	}{
		{"unknown key", map[string]error{"a": dropped(eventsig.DropUnknownKey)}, []string{"a"}, false, []string{"origin a", "CLUSTER_SECRET"}},
		{"bad signature", map[string]error{"a": dropped(eventsig.DropBadSignature)}, []string{"a"}, false, []string{"origin a"}},
		{"unsigned is not a trust problem", map[string]error{"a": dropped(eventsig.DropUnsigned)}, []string{"a"}, true, nil},
		{"commit failure is not a trust problem", map[string]error{"a": errors.New("commit failed")}, []string{"a"}, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := newKafkaTrust(slog.New(slog.DiscardHandler), false)
			for _, o := range tc.steps {
				h := k.wrap(func(context.Context, *revocation.Event) error { return tc.outcomes[o] })
				_ = h(context.Background(), &revocation.Event{Origin: o})
			}
			ch, found := k.check()
			if found == tc.wantOK {
				t.Fatalf("check found=%v %+v, want ok=%v", found, ch, tc.wantOK)
			}
			for _, n := range tc.wantNames {
				if !strings.Contains(ch.Detail, n) {
					t.Errorf("detail %q lacks %q", ch.Detail, n)
				}
			}
		})
	}
	t.Run("cleared when the origin verifies again, bounded", func(t *testing.T) {
		k := newKafkaTrust(slog.New(slog.DiscardHandler), true)
		refuse := k.wrap(func(context.Context, *revocation.Event) error { return dropped(eventsig.DropUnknownKey) })
		accept := k.wrap(func(context.Context, *revocation.Event) error { return nil })
		for i := range 2 * maxRefusedOrigins {
			_ = refuse(context.Background(), &revocation.Event{Origin: fmt.Sprint("o", i)})
		}
		if len(k.refused) != maxRefusedOrigins {
			t.Fatalf("%d origins remembered, want %d", len(k.refused), maxRefusedOrigins)
		}
		for i := range maxRefusedOrigins {
			_ = accept(context.Background(), &revocation.Event{Origin: fmt.Sprint("o", i)})
		}
		if ch, found := k.check(); found {
			t.Fatalf("still reported after every origin verified: %+v", ch)
		}
	})
}

// TestAnnouncementsStored: announcements trusted on one run are trusted at
// the next start before any arrives; one stored under another secret is
// dropped; the store is bounded (oldest IssuedAt first).
func TestAnnouncementsStored(t *testing.T) {
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "revocation.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	secret := []byte(strings.Repeat("s", 32))
	self, err := eventsig.NewSigner("self-key", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := eventsig.NewSigner("peer-key", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	start := func(secret []byte) (*announcements, *eventsig.Verifier) {
		v := eventsig.NewVerifier()
		a, err := startAnnouncements(ctx, secret, "self", v, self, store, log)
		if err != nil {
			t.Fatal(err)
		}
		return a, v
	}
	a, _ := start(secret)
	for i := range maxStoredAnnouncements + 2 {
		sealed, err := eventsig.SealAnnouncement(secret, eventsig.Announcement{NodeID: fmt.Sprint("n", i), KeyID: peer.KeyID(), Pub: peer.PublicKey(), IssuedAt: int64(1000 + i)})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.kafkaAnnouncement(fmt.Sprint("n", i), sealed); err != nil {
			t.Fatal(err)
		}
	}
	a.close() // stores what is pending
	b, v := start(secret)
	b.close()
	if v.TrustsNode("n0", "peer-key") || v.TrustsNode("n1", "peer-key") {
		t.Error("the two oldest announcements were kept beyond the bound")
	}
	for _, n := range []string{"n2", fmt.Sprint("n", maxStoredAnnouncements+1)} {
		if !v.TrustsNode(n, "peer-key") {
			t.Errorf("%s's key not trusted after the restart", n)
		}
	}
	c, v2 := start([]byte(strings.Repeat("x", 32)))
	c.close()
	if v2.TrustsNode("n2", "peer-key") {
		t.Error("an announcement stored under another secret was trusted")
	}
}
