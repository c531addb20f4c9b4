package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/revocd/revocd/actors/intake"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/wire"
)

// trustConfigured adds EVENT_TRUSTED_KEYS to v.
func trustConfigured(v *eventsig.Verifier, spec string) error {
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
		case strings.HasPrefix(part, "@"):
			b, err := os.ReadFile(part[1:])
			if err != nil {
				return fmt.Errorf("server: EVENT_TRUSTED_KEYS: %w", err)
			}
			if err := v.TrustJSON(b); err != nil {
				return fmt.Errorf("server: EVENT_TRUSTED_KEYS %s: %w", part[1:], err)
			}
		default:
			id, b64, _ := strings.Cut(part, "=")
			pub, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return fmt.Errorf("server: EVENT_TRUSTED_KEYS key %s: %w", id, err)
			}
			if err := v.Trust(id, pub); err != nil {
				return fmt.Errorf("server: EVENT_TRUSTED_KEYS key %s: %w", id, err)
			}
		}
	}
	return nil
}

// intakeDeps are what the intake actor needs from the node.
type intakeDeps struct {
	Origin   string
	Verifier *eventsig.Verifier
	Replay   *eventsig.ReplayGuard
	Index    *index.Index
	Engine   *actor.Engine
	Audit    *actor.PID
	Registry prometheus.Registerer
}

// startIntake spawns the node's intake actor (actors/intake), the one
// receive path of the Kafka consumer and the cluster, and returns the
// client both call it through.
func startIntake(d intakeDeps) (*actor.PID, intake.Client, error) {
	p, err := intake.New(intake.Options{
		Origin: d.Origin, Verifier: d.Verifier, Replay: d.Replay, Index: d.Index, Audit: d.Audit, Registerer: d.Registry,
	})
	if err != nil {
		return nil, intake.Client{}, fmt.Errorf("server: %w", err)
	}
	pid := d.Engine.Spawn(p, "intake")
	return pid, intake.Client{Engine: d.Engine, PID: pid}, nil
}

// kvAnnouncements is the kv entry holding the sealed key announcements
// this node trusts (from peers and from Kafka record headers), so that a
// restarted node trusts its peers' keys before their next Hello or batch.
const kvAnnouncements = "trusted_announcements"

// maxStoredAnnouncements bounds kvAnnouncements: beyond it the oldest
// announcements (by IssuedAt) are forgotten (they are learnt again from
// their node's next Hello or batch).
const maxStoredAnnouncements = 256

// announcements is the node's key-announcement trust (CLUSTER_SECRET, or
// the dev secret in --dev): the rule shared by the cluster and the Kafka
// consumer, this node's own sealed announcement, and the store of the
// announcements it trusts.
type announcements struct {
	trust  *eventsig.AnnouncementTrust
	sealed []byte // this node's announcement
	store  *sqlitestore.Store
	log    *slog.Logger

	mu     sync.Mutex
	stored map[string]storedAnnouncement // by node id and key id
	dirty  chan struct{}
	done   chan struct{}
	cancel context.CancelFunc
}

type storedAnnouncement struct {
	sealed   []byte
	issuedAt int64
}

// startAnnouncements seals this node's announcement under secret, trusts
// the announcements stored by an earlier run (each opened again under
// secret: one stored under another secret is dropped) and starts the
// writer that stores newly trusted ones. It returns nil without a secret.
// Call close before the store closes.
func startAnnouncements(ctx context.Context, secret []byte, nodeID string, v *eventsig.Verifier, signer *eventsig.Signer, store *sqlitestore.Store, log *slog.Logger) (*announcements, error) {
	if len(secret) == 0 {
		return nil, nil
	}
	sealed, err := eventsig.SealAnnouncement(secret, eventsig.Announcement{
		NodeID: nodeID, KeyID: signer.KeyID(), Pub: signer.PublicKey(), IssuedAt: time.Now().Unix(),
	})
	if err != nil {
		return nil, fmt.Errorf("server: key announcement: %w", err)
	}
	a := &announcements{
		trust: eventsig.NewAnnouncementTrust(secret, v, nodeID), sealed: sealed, store: store, log: log,
		stored: map[string]storedAnnouncement{}, dirty: make(chan struct{}, 1), done: make(chan struct{}),
	}
	b, ok, err := store.GetKV(ctx, kvAnnouncements)
	if err != nil {
		return nil, fmt.Errorf("server: load %s: %w", kvAnnouncements, err)
	}
	if ok {
		var list [][]byte
		if err := json.Unmarshal(b, &list); err != nil {
			log.Warn("stored key announcements are unreadable; they are learnt again from peers and Kafka", "err", err)
		}
		dropped := 0
		for _, s := range list {
			an, _, err := a.trust.Accept(s, nil)
			if err != nil {
				dropped++
				continue
			}
			a.stored[an.NodeID+"\x00"+an.KeyID] = storedAnnouncement{sealed: s, issuedAt: an.IssuedAt}
		}
		log.Info("trusting stored key announcements", "trusted", len(list)-dropped, "dropped", dropped)
	}
	a.trust.OnTrusted(a.remember)
	bg, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go a.writer(bg)
	return a, nil
}

// remember records a newly trusted announcement for the writer (it runs
// on the caller of Accept: the replicator or the Kafka consumer; it does
// not block).
func (a *announcements) remember(sealed []byte, an eventsig.Announcement) {
	a.mu.Lock()
	a.stored[an.NodeID+"\x00"+an.KeyID] = storedAnnouncement{sealed: sealed, issuedAt: an.IssuedAt}
	for len(a.stored) > maxStoredAnnouncements {
		oldest := ""
		for k, s := range a.stored {
			if oldest == "" || s.issuedAt < a.stored[oldest].issuedAt {
				oldest = k
			}
		}
		delete(a.stored, oldest)
	}
	a.mu.Unlock()
	select {
	case a.dirty <- struct{}{}:
	default:
	}
}

// writer stores the trusted announcements whenever they change, and once
// more when ctx ends if a change is pending.
func (a *announcements) writer(ctx context.Context) {
	defer close(a.done)
	for {
		select {
		case <-a.dirty:
			a.write()
		case <-ctx.Done():
			select {
			case <-a.dirty:
				a.write()
			default:
			}
			return
		}
	}
}

func (a *announcements) write() {
	a.mu.Lock()
	list := make([][]byte, 0, len(a.stored))
	for _, s := range a.stored {
		list = append(list, s.sealed)
	}
	a.mu.Unlock()
	b, err := json.Marshal(list)
	if err == nil {
		err = putKV(a.store, kvAnnouncements, b)
	}
	if err != nil {
		a.log.Warn("cannot store trusted key announcements; after a restart they are learnt again from peers and Kafka", "err", err)
		return
	}
	a.log.Info("trusted key announcements stored", "count", len(list))
}

// putKV writes one kv entry in its own transaction.
func putKV(store *sqlitestore.Store, name string, b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tx, err := store.Begin(ctx)
	if err != nil {
		return err
	}
	if err := tx.PutKV(name, b); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// close stops the writer after it stored any pending change. Safe on nil.
func (a *announcements) close() {
	if a == nil {
		return
	}
	a.cancel()
	<-a.done
}

// kafkaAnnouncement is the Kafka consumer's Config.OnAnnouncement: a
// record's announcement is trusted only for the node the record names as
// its origin.
func (a *announcements) kafkaAnnouncement(origin string, sealed []byte) error {
	an, fresh, err := a.trust.Accept(sealed, func(nodeID string) bool { return nodeID == origin })
	if err != nil {
		return err
	}
	if fresh {
		a.log.Info("trusting event key announced on Kafka", "node", an.NodeID, "key_id", an.KeyID)
	}
	return nil
}

// kafkaTrust watches the Kafka consumer's outcomes for events refused
// because their origin's key is not trusted (unknown_key, or
// bad_signature: a key id this node trusts for another key): /ready then reports a
// "kafka_trust" check that is not ok, naming the origins and the fix, and
// the first refusal per origin is logged at WARN. An origin whose events
// verify again is cleared. Safe for concurrent use.
type kafkaTrust struct {
	log *slog.Logger
	fix string

	mu      sync.Mutex
	refused map[string]string // origin → error, at most maxRefusedOrigins
	warned  map[string]bool
}

// maxRefusedOrigins bounds what kafkaTrust remembers: whoever can write to
// the topic chooses origins.
const maxRefusedOrigins = 64

func newKafkaTrust(log *slog.Logger, haveSecret bool) *kafkaTrust {
	fix := "set CLUSTER_SECRET (e.g. `openssl rand -hex 32`) to the same value on every node sharing the topic, or add the origin's key to EVENT_TRUSTED_KEYS"
	if haveSecret {
		fix = "the origin announces no key under this node's CLUSTER_SECRET: set the same CLUSTER_SECRET on every node sharing the topic, or add the origin's key to EVENT_TRUSTED_KEYS"
	}
	return &kafkaTrust{log: log, fix: fix, refused: map[string]string{}, warned: map[string]bool{}}
}

// wrap returns h observed.
func (k *kafkaTrust) wrap(h func(ctx context.Context, e *revocation.Event) error) func(ctx context.Context, e *revocation.Event) error {
	return func(ctx context.Context, e *revocation.Event) error {
		err := h(ctx, e)
		var d *intake.DroppedError
		switch {
		case err == nil:
			k.verified(e.Origin)
		case errors.As(err, &d) && (slices.Contains(d.Reasons(), string(eventsig.DropUnknownKey)) ||
			slices.Contains(d.Reasons(), string(eventsig.DropBadSignature))):
			// bad_signature too: a node whose key id collides with a
			// trusted one (the same PQC_SIGNING_KEY_ID) fails that way.
			k.untrusted(e.Origin, err)
		}
		return err
	}
}

func (k *kafkaTrust) untrusted(origin string, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.refused[origin]; !ok && len(k.refused) >= maxRefusedOrigins {
		return
	}
	k.refused[origin] = err.Error()
	if !k.warned[origin] && len(k.warned) < maxRefusedOrigins {
		k.warned[origin] = true
		k.log.Warn("kafka: events refused: their origin's key is not trusted", "origin", origin, "err", err, "fix", k.fix)
	}
}

func (k *kafkaTrust) verified(origin string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.refused[origin]; ok {
		delete(k.refused, origin)
		k.log.Info("kafka: events of origin verify again", "origin", origin)
	}
}

// check is the "kafka_trust" entry of /ready; ok is false when no event
// is currently refused (no entry then).
func (k *kafkaTrust) check() (wire.Check, bool) {
	if k == nil {
		return wire.Check{}, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.refused) == 0 {
		return wire.Check{}, false
	}
	origins := make([]string, 0, len(k.refused))
	for o := range k.refused {
		origins = append(origins, o)
	}
	slices.Sort(origins)
	return wire.Check{OK: false, Detail: fmt.Sprintf("events refused (untrusted key or bad signature) of origin %s; fix: %s", strings.Join(origins, ", "), k.fix)}, true
}

// announcementTrust is a's rule, nil when a is.
func (a *announcements) announcementTrust() *eventsig.AnnouncementTrust {
	if a == nil {
		return nil
	}
	return a.trust
}
