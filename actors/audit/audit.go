// Package audit is the audit-writer actor: the single writer of the SQLite
// audit log while the node runs. Every state change of revocd — revocations,
// refresh-token state, token audit rows, the token key ring, events received
// from other nodes — reaches SQLite through one of its typed commands
// (messages.go), executed by the write rule of the same name (rules.go).
// Not written here: each outbox actor's own delivery cursor (actors/outbox),
// and the start-up writes made before the actors run (the persisted
// secrets in server/ and the initial key ring, issuer.LoadRing).
//
// Group commit: commands are queued in the actor's state as they arrive, and
// a flush message the actor sends itself executes everything queued so far
// in one transaction, signing all new revocation events of the batch with
// one ML-DSA-65 signature (crypto/eventsig). Only after the commit are the
// events applied to the in-memory index, a Committed message sent to every
// subscriber (outboxes, cluster fan-out) and the senders answered: an answer
// means durable. The writer never waits on another actor.
package audit

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/google/uuid"

	"github.com/revocd/revocd/actors/msg"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
)

// ErrUnavailable is returned to every sender of a batch whose transaction
// failed; nothing of that batch was committed. (Declared in actors/msg,
// whose answers carry it up to the HTTP layer.)
var ErrUnavailable = msg.ErrUnavailable

// Config configures the writer. Store, Signer and Index are required.
type Config struct {
	Store    *sqlitestore.Store
	Signer   *eventsig.Signer
	Index    *index.Index
	Origin   string
	MaxBatch int // largest number of queued commands per transaction; default 512
	Now      func() time.Time
	Logger   *slog.Logger
	// MaxClockSkew (MAX_CLOCK_SKEW_SECONDS) bounds how far another node's
	// clock may run ahead of this one's: a subject revocation's cutoff is
	// placed that far ahead, so it covers every token issued anywhere
	// before it (index.Index.ReserveSubCutoffAhead).
	MaxClockSkew time.Duration
	// AccessTTL is the access-token lifetime: how long the revocations of
	// the access tokens of a family revoked on another node's word (a
	// replicated reuse or a concurrent rotation) must last. Zero: the
	// refresh token's lifetime.
	AccessTTL time.Duration
	// OnBadState, if set, is called (on the writer's goroutine; it must
	// not block) for each received state event whose payload fails
	// validation: it is dropped, neither stored nor applied.
	OnBadState func(e *revocation.Event, err error)
	// Subscribers receive a *Committed after each commit that contained
	// revocation or token events.
	Subscribers []*actor.PID
	// Observe, if set, receives each batch's size for metrics. It runs on
	// the writer's goroutine and must not block.
	Observe func(requests, events int, took time.Duration)
}

type pending struct {
	cmd    command
	remote []revocation.Event
	ref    Ref // an ApplyRemote's, echoed in its Result
	sender *actor.PID
}

type writer struct {
	cfg      Config
	seq      uint64
	queue    []pending
	tokenEvs []sqlitestore.TokenEvent
	flushing bool
	// seqErr is set while the local sequence could not be read from the
	// log: nothing is committed until it is (a guessed sequence would
	// reuse numbers the log already holds).
	seqErr error
}

type flush struct{}

// loadSeq reads the local sequence from the log (at Started, and before a
// commit while an earlier read failed).
func (w *writer) loadSeq() error {
	seqs, err := w.cfg.Store.MaxSeqByOrigin(context.Background())
	if err != nil {
		w.seqErr = fmt.Errorf("audit: read the event sequence: %w", err)
		return w.seqErr
	}
	w.seq, w.seqErr = seqs[w.cfg.Origin], nil
	return nil
}

// New returns the actor producer of the audit writer.
func New(cfg Config) actor.Producer {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 512
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return func() actor.Receiver { return &writer{cfg: cfg} }
}

// Receive implements actor.Receiver.
func (w *writer) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		if err := w.loadSeq(); err != nil {
			w.cfg.Logger.Error("audit: cannot read the event sequence; refusing commits until it can", "err", err)
		}
	case *CommitRevocation:
		w.enqueue(c, pending{cmd: m, sender: c.Sender()})
	case *RevokeRefresh:
		w.enqueue(c, pending{cmd: m, sender: c.Sender()})
	case *CreateRefresh:
		w.enqueue(c, pending{cmd: m, sender: c.Sender()})
	case *RotateRefresh:
		w.enqueue(c, pending{cmd: m, sender: c.Sender()})
	case *PutKeyRing:
		w.enqueue(c, pending{cmd: m, sender: c.Sender()})
	case *CommitKeyState:
		w.enqueue(c, pending{cmd: m, sender: c.Sender()})
	case *ApplyRemote:
		w.enqueue(c, pending{remote: m.Events, ref: m.Ref, sender: c.Sender()})
	case *Subscribe:
		if m.PID != nil {
			w.cfg.Subscribers = append(w.cfg.Subscribers, m.PID)
		}
	case *Record:
		w.tokenEvs = append(w.tokenEvs, m.TokenEvents...)
		w.scheduleFlush(c)
	case flush:
		w.flushing = false
		w.flush(c)
		if len(w.queue) > 0 || len(w.tokenEvs) > 0 {
			w.scheduleFlush(c)
		}
	case actor.Stopped:
		for range 1 + len(w.queue)/w.cfg.MaxBatch {
			if len(w.queue) == 0 && len(w.tokenEvs) == 0 {
				break
			}
			w.flush(c)
		}
	}
}

func (w *writer) enqueue(c *actor.Context, p pending) {
	w.queue = append(w.queue, p)
	w.scheduleFlush(c)
}

// scheduleFlush sends the actor a flush message unless one is in flight.
// The flush is queued behind every command already in the inbox, so all of
// them join the same transaction.
func (w *writer) scheduleFlush(c *actor.Context) {
	if !w.flushing {
		w.flushing = true
		c.Send(c.PID(), flush{})
	}
}

// batch is the open group-commit transaction as the write rules see it.
type batch struct {
	tx          *sqlitestore.Tx
	now         time.Time
	w           *writer
	events      []*revocation.Event
	tokenEvents []sqlitestore.TokenEvent
}

// revoke adds a new local revocation event to the batch. EventID and TS are
// filled in when empty; Origin, Seq and the signature are assigned at commit.
func (b *batch) revoke(e revocation.Event) *revocation.Event {
	if e.EventID == "" {
		// UUIDv7: time-ordered ids keep the audit log's event_id index
		// append-mostly, which doubles group-commit throughput compared
		// with random v4 ids.
		id, err := uuid.NewV7()
		if err != nil {
			id = uuid.New()
		}
		e.EventID = id.String()
	}
	if e.TS == 0 {
		e.TS = b.now.UnixMilli()
	}
	ev := &e
	b.events = append(b.events, ev)
	return ev
}

// pending returns the latest revocation event of type typ and value that an
// earlier command of this batch added, or nil: a revocation that is not in
// the audit log yet because the batch has not committed.
func (b *batch) pending(typ revocation.Type, value string) *revocation.Event {
	for i := len(b.events) - 1; i >= 0; i-- {
		if e := b.events[i]; e.Type == typ && e.Value == value {
			return e
		}
	}
	return nil
}

// tokenEvent adds a token audit row to the batch.
func (b *batch) tokenEvent(ev sqlitestore.TokenEvent) error {
	if ev.TS == 0 {
		ev.TS = b.now.UnixMilli()
	}
	if err := b.tx.InsertTokenEvent(ev); err != nil {
		return err
	}
	b.tokenEvents = append(b.tokenEvents, ev)
	return nil
}

func (w *writer) flush(c *actor.Context) {
	n := min(len(w.queue), w.cfg.MaxBatch)
	queued := w.queue[:n:n]
	w.queue = w.queue[n:]
	tokenEvs := w.tokenEvs
	w.tokenEvs = nil
	if len(w.queue) == 0 {
		w.queue = nil
	}
	start := time.Now()
	outcomes, inserted, committed, err := w.commit(queued, tokenEvs)
	if err != nil {
		w.cfg.Logger.Error("audit: group commit failed", "requests", len(queued), "err", err)
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		for _, p := range queued {
			if p.cmd == nil {
				reply(c, p.sender, &Result{Ref: p.ref, Err: err})
			} else {
				reply(c, p.sender, &Failed{Ref: refOf(p.cmd), Err: err})
			}
		}
		return
	}
	for i := range committed.Events {
		ApplyEvent(w.cfg.Index, &committed.Events[i])
	}
	if len(committed.Events) > 0 || len(committed.TokenEvents) > 0 {
		for _, pid := range w.cfg.Subscribers {
			c.Send(pid, &committed)
		}
	}
	if w.cfg.Observe != nil {
		w.cfg.Observe(len(queued), len(committed.Events), time.Since(start))
	}
	for i, p := range queued {
		if p.cmd == nil {
			reply(c, p.sender, &Result{Ref: p.ref, Inserted: inserted[i]})
			continue
		}
		o := outcomes[i]
		switch {
		case o.err != nil:
			reply(c, p.sender, &Failed{Ref: refOf(p.cmd), Err: o.err})
		case o.ev != nil:
			reply(c, p.sender, &Revoked{Ref: refOf(p.cmd), Event: *o.ev, LogID: committed.LastID})
		default:
			reply(c, p.sender, o.reply)
		}
	}
}

// refOf returns the Ref a command carries.
func refOf(cmd command) Ref {
	switch m := cmd.(type) {
	case *CommitRevocation:
		return m.Ref
	case *RevokeRefresh:
		return m.Ref
	case *CreateRefresh:
		return m.Ref
	case *RotateRefresh:
		return m.Ref
	case *PutKeyRing:
		return m.Ref
	case *CommitKeyState:
		return m.Ref
	}
	return Ref{}
}

func reply(c *actor.Context, to *actor.PID, msg any) {
	if to != nil {
		c.Send(to, msg)
	}
}

// commit runs one transaction for the queued commands. On error nothing was
// committed and the local sequence counter is restored. inserted[i] is the
// number of new events of the i-th command when it is an ApplyRemote.
func (w *writer) commit(queued []pending, tokenEvs []sqlitestore.TokenEvent) (outcomes []outcome, inserted []int, out Committed, err error) {
	ctx := context.Background()
	if w.seqErr != nil {
		if err := w.loadSeq(); err != nil {
			return nil, nil, out, err
		}
	}
	now := w.cfg.Now()
	tx, err := w.cfg.Store.Begin(ctx)
	if err != nil {
		return nil, nil, out, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	b := &batch{tx: tx, now: now, w: w}
	outcomes = make([]outcome, len(queued))
	inserted = make([]int, len(queued))
	var remote []revocation.Event
	for i, p := range queued {
		if p.cmd != nil {
			outcomes[i] = p.cmd.apply(b)
			continue
		}
		remote = append(remote, p.remote...)
	}
	// Events of other nodes are stored and applied to the refresh-token
	// state before the batch's own events are signed: applying them may
	// revoke a token family, which adds events of this node.
	recv := now.UnixMilli()
	isNew := make([]bool, len(remote))
	var remoteEvs []revocation.Event
	ra := remoteApplier{b: b}
	for i := range remote {
		e := &remote[i]
		s, ok := w.screenRemote(e)
		if !ok {
			continue
		}
		if isNew[i], err = tx.InsertEvent(e, recv); err != nil {
			return nil, nil, out, err
		}
		if !isNew[i] {
			continue
		}
		remoteEvs = append(remoteEvs, *e)
		if err = ra.apply(e, &s); err != nil {
			return nil, nil, out, fmt.Errorf("audit: apply %s %s from %s: %w", e.Type, e.EventID, e.Origin, err)
		}
	}
	if err = ra.finish(); err != nil {
		return nil, nil, out, fmt.Errorf("audit: revoke families revoked elsewhere: %w", err)
	}
	for _, te := range tokenEvs {
		if err = b.tokenEvent(te); err != nil {
			return nil, nil, out, err
		}
	}
	seqBefore := w.seq
	defer func() {
		if err != nil {
			w.seq = seqBefore
		}
	}()
	if len(b.events) > 0 {
		for _, e := range b.events {
			w.seq++
			e.Origin, e.Seq = w.cfg.Origin, w.seq
		}
		if err = w.cfg.Signer.SignBatch(b.events); err != nil {
			return nil, nil, out, fmt.Errorf("sign batch: %w", err)
		}
	}
	out.Events = remoteEvs
	for _, e := range b.events {
		if _, err = tx.InsertEvent(e, recv); err != nil {
			return nil, nil, out, err
		}
		out.Events = append(out.Events, *e)
	}
	if err = tx.Commit(); err != nil {
		return nil, nil, out, err
	}
	out.TokenEvents = b.tokenEvents
	k := 0
	for i, p := range queued {
		if p.cmd == nil {
			for range p.remote {
				if isNew[k] {
					inserted[i]++
				}
				k++
			}
		}
	}
	if len(out.Events) > 0 {
		out.LastID, _ = w.cfg.Store.LastEventID(ctx)
	}
	return outcomes, inserted, out, nil
}

// ApplyEvent applies one committed revocation event to the index. It is
// idempotent and safe for concurrent use (the index is).
func ApplyEvent(ix *index.Index, e *revocation.Event) {
	switch e.Type {
	case revocation.TypeJTI:
		ix.RevokeJTI(e.Value, e.ExpiresAt)
	case revocation.TypeSub:
		ix.RevokeSub(e.Value, e.SubCutoff(), e.ExpiresAt)
	case revocation.TypeKid:
		ix.RevokeKid(e.Value, e.ExpiresAt)
	}
}
