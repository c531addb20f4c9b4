// Package outbox is the transactional-outbox delivery actor. The audit log
// (SQLite table revocation_events) is the outbox: a revocation event and its
// outbox entry are the same row, committed in one transaction. One outbox
// actor per destination (Redis, Kafka) keeps a durable cursor — the audit-log
// position up to which the destination has acknowledged — and delivers the
// rows after it, in commit order, with retry and exponential backoff. A
// restart resumes from the cursor; delivery is at-least-once and events are
// idempotent, so a redelivered batch is harmless.
//
// The actor never does I/O on its own goroutine while running: one delivery
// at a time (read a batch after the cursor, deliver it, store the new
// cursor) runs on a goroutine that reports back with a delivered message;
// the actor keeps taking notifications meanwhile and starts the next
// delivery when the report arrives. The cursor row is written by this actor
// (one row per destination), not by the audit writer. Only the final
// attempt on shutdown (actor.Stopped) runs synchronously, bounded by
// Timeout per batch. A failed delivery is retried after
// backoff.Policy.Pause of the number of consecutive failures (MinBackoff
// doubling up to MaxBackoff), by a self-sent timer message.
//
// Whoever needs to know that a position was delivered (the /revoke
// handler's "published") asks the actor with an AwaitDelivered: the
// request is kept as a pending waiter and answered with *Delivered when
// the cursor reaches it or its deadline passes (one timer for the earliest
// deadline, no goroutine per waiter).
package outbox

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/revocd/revocd/actors/msg"
	"github.com/revocd/revocd/internal/backoff"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
)

// Sink is a destination of revocation events.
type Sink interface {
	// Deliver writes events (in order) and returns nil only once the
	// destination acknowledged all of them. It must be idempotent.
	Deliver(ctx context.Context, events []revocation.Event) error
}

// Config configures an outbox actor. Store, Sink and Name are required.
type Config struct {
	Name         string // destination name: the cursor key ("redis", "kafka")
	Store        *sqlitestore.Store
	Sink         Sink
	BatchSize    int           // events per delivery; default 256
	Timeout      time.Duration // per delivery attempt; default 5 s
	MinBackoff   time.Duration // default 100 ms
	MaxBackoff   time.Duration // default 5 s
	PollInterval time.Duration // safety poll for missed notifications; default 1 s
	Logger       *slog.Logger
	// Progress, shared with readers, reports delivery state.
	Progress *Progress
}

// Notify tells the outbox that the audit log grew up to LastID.
type Notify struct{ LastID int64 }

// AwaitDelivered asks the actor to answer once its cursor reaches LogID or
// Deadline passes (msg.AwaitDelivered). Answer: *Delivered, sent to the
// sender.
type AwaitDelivered = msg.AwaitDelivered

// Delivered answers AwaitDelivered (msg.Delivered).
type Delivered = msg.Delivered

type (
	pollTick  struct{}
	retryTick struct{}
	// waitTick is the self-sent timer message of the earliest waiter's
	// deadline (stale ticks are harmless).
	waitTick struct{}
)

// waiter is a pending AwaitDelivered.
type waiter struct {
	to       *actor.PID
	logID    int64
	deadline time.Time
}

// delivered reports one delivery attempt of the goroutine started by drain.
// through is the new cursor (0: nothing was delivered); empty means the
// audit log holds nothing after the cursor.
type delivered struct {
	through int64
	empty   bool
	err     error
}

// Progress is the delivery state of one destination, readable from any
// goroutine (readiness reports): the acknowledged cursor, the backlog and
// the last error. Waiting for the cursor to pass a position is a message to
// the actor (AwaitDelivered). The zero value is ready to use.
type Progress struct {
	cursor  atomic.Int64
	head    atomic.Int64
	healthy atomic.Bool
	mu      sync.Mutex
	lastErr string
}

func (p *Progress) set(cursor int64) { p.cursor.Store(cursor) }

// Cursor returns the audit-log position the destination has acknowledged.
func (p *Progress) Cursor() int64 { return p.cursor.Load() }

// Backlog returns how many audit-log positions await delivery.
func (p *Progress) Backlog() int64 {
	if b := p.head.Load() - p.cursor.Load(); b > 0 {
		return b
	}
	return 0
}

// Healthy reports whether the last delivery attempt succeeded, and the last
// error otherwise.
func (p *Progress) Healthy() (bool, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.healthy.Load(), p.lastErr
}

func (p *Progress) setErr(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.healthy.Store(true)
		p.lastErr = ""
		return
	}
	p.healthy.Store(false)
	p.lastErr = err.Error()
}

type outboxActor struct {
	cfg      Config
	cursor   int64
	head     int64
	backoff  backoff.Policy
	failures int           // consecutive failed deliveries
	retry    bool          // a retry tick is scheduled
	waiters  []waiter      // pending AwaitDelivered, answered by answerWaiters
	waitAt   time.Time     // deadline the wait timer is armed for
	waitT    *time.Timer   // the wait timer; nil if none is armed
	inFlight chan struct{} // closed when the running delivery ends; nil if none
	poller   actor.SendRepeater
	started  bool
}

// New returns the producer of an outbox actor.
func New(cfg Config) actor.Producer {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Progress == nil {
		cfg.Progress = &Progress{}
	}
	return func() actor.Receiver {
		return &outboxActor{cfg: cfg, backoff: backoff.Policy{Initial: cfg.MinBackoff, Max: cfg.MaxBackoff}}
	}
}

// Receive implements actor.Receiver.
func (a *outboxActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		ctx := context.Background()
		cur, err := a.cfg.Store.Cursor(ctx, a.cfg.Name)
		if err != nil {
			a.cfg.Logger.Error("outbox: read cursor", "dest", a.cfg.Name, "err", err)
		}
		head, _ := a.cfg.Store.LastEventID(ctx)
		a.cursor, a.head = cur, head
		a.cfg.Progress.head.Store(head)
		a.cfg.Progress.set(cur)
		a.poller = c.SendRepeat(c.PID(), pollTick{}, a.cfg.PollInterval)
		a.started = true
		a.drain(c)
	case actor.Stopped:
		if a.started {
			a.poller.Stop()
			a.finalDrain()
		}
		if a.waitT != nil {
			a.waitT.Stop()
		}
		for _, w := range a.waiters {
			a.answer(c, w, a.cursor >= w.logID)
		}
		a.waiters = nil
	case *AwaitDelivered:
		a.await(c, m)
	case waitTick:
		a.waitT = nil
		a.expireWaiters(c)
	case *Notify:
		if m.LastID > a.head {
			a.head = m.LastID
			a.cfg.Progress.head.Store(m.LastID)
		}
		a.drain(c)
	case pollTick:
		if a.retry || a.inFlight != nil {
			return
		}
		a.refreshHead()
		a.drain(c)
	case retryTick:
		a.retry = false
		a.refreshHead()
		a.drain(c)
	case delivered:
		a.inFlight = nil
		more := a.apply(m)
		a.answerWaiters(c)
		if more {
			a.drain(c)
		} else if m.err != nil {
			a.scheduleRetry(c, m.err)
		}
	}
}

// await answers m at once if the cursor reached its position or its
// deadline passed, else keeps it as a waiter and arms the wait timer for
// the earliest deadline.
func (a *outboxActor) await(c *actor.Context, m *AwaitDelivered) {
	w := waiter{to: c.Sender(), logID: m.LogID, deadline: m.Deadline}
	if a.cursor >= w.logID || !time.Now().Before(w.deadline) {
		a.answer(c, w, a.cursor >= w.logID)
		return
	}
	a.waiters = append(a.waiters, w)
	a.armWait(c, w.deadline)
}

// answerWaiters answers the waiters whose position the cursor reached.
func (a *outboxActor) answerWaiters(c *actor.Context) {
	kept := a.waiters[:0]
	for _, w := range a.waiters {
		if a.cursor >= w.logID {
			a.answer(c, w, true)
			continue
		}
		kept = append(kept, w)
	}
	clear(a.waiters[len(kept):])
	a.waiters = kept
}

// expireWaiters answers the waiters whose deadline passed (not delivered)
// and re-arms the wait timer for the earliest remaining deadline.
func (a *outboxActor) expireWaiters(c *actor.Context) {
	now := time.Now()
	kept := a.waiters[:0]
	var next time.Time
	for _, w := range a.waiters {
		if !now.Before(w.deadline) {
			a.answer(c, w, a.cursor >= w.logID)
			continue
		}
		kept = append(kept, w)
		if next.IsZero() || w.deadline.Before(next) {
			next = w.deadline
		}
	}
	clear(a.waiters[len(kept):])
	a.waiters = kept
	if !next.IsZero() {
		a.armWait(c, next)
	}
}

// armWait makes the wait timer fire at deadline unless it fires earlier
// already.
func (a *outboxActor) armWait(c *actor.Context, deadline time.Time) {
	if a.waitT != nil {
		if !deadline.Before(a.waitAt) {
			return
		}
		a.waitT.Stop()
	}
	a.waitAt = deadline
	pid, engine := c.PID(), c.Engine()
	a.waitT = time.AfterFunc(time.Until(deadline), func() { engine.Send(pid, waitTick{}) })
}

func (a *outboxActor) answer(c *actor.Context, w waiter, ok bool) {
	if w.to != nil {
		c.Send(w.to, &Delivered{LogID: w.logID, OK: ok})
	}
}

// refreshHead reads the audit log's last position (a safety net for a lost
// notification).
func (a *outboxActor) refreshHead() {
	if head, err := a.cfg.Store.LastEventID(context.Background()); err == nil && head > a.head {
		a.head = head
		a.cfg.Progress.head.Store(head)
	}
}

// drain starts delivering the next batch on a goroutine unless the
// destination is caught up, a delivery is running or a retry is pending.
func (a *outboxActor) drain(c *actor.Context) {
	if a.inFlight != nil || a.retry || a.cursor >= a.head {
		return
	}
	done := make(chan struct{})
	a.inFlight = done
	pid, engine, after := c.PID(), c.Engine(), a.cursor
	go func() {
		defer close(done)
		engine.Send(pid, a.deliver(after))
	}()
}

// apply records the outcome of a delivery and reports whether more may be
// delivered at once.
func (a *outboxActor) apply(d delivered) bool {
	a.cfg.Progress.setErr(d.err)
	switch {
	case d.err != nil:
		return false
	case d.empty:
		a.head = a.cursor
		return false
	}
	a.cursor = d.through
	a.cfg.Progress.set(d.through)
	a.failures = 0
	return a.cursor < a.head
}

// deliver delivers the batch after the cursor position after and stores the
// new cursor. It touches no actor state: it runs on the delivery goroutine
// (cfg is read-only, the store is safe for concurrent use, and one delivery
// runs at a time).
func (a *outboxActor) deliver(after int64) delivered {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Timeout)
	defer cancel()
	rows, err := a.cfg.Store.EventsAfter(ctx, after, a.cfg.BatchSize)
	if err != nil {
		return delivered{err: err}
	}
	if len(rows) == 0 {
		return delivered{empty: true}
	}
	events := make([]revocation.Event, len(rows))
	for i := range rows {
		events[i] = rows[i].Event
	}
	if err := a.cfg.Sink.Deliver(ctx, events); err != nil {
		return delivered{err: err}
	}
	through := rows[len(rows)-1].ID
	if err := a.saveCursor(ctx, through); err != nil {
		return delivered{err: err}
	}
	return delivered{through: through}
}

// finalDrain is the last attempt on shutdown: it lets a running delivery
// end (its report can no longer arrive, so the cursor is read back), then
// delivers what is left until caught up or a delivery fails. What is not
// delivered stays in the outbox for the next start.
func (a *outboxActor) finalDrain() {
	if a.inFlight != nil {
		<-a.inFlight
		a.inFlight = nil
		if cur, err := a.cfg.Store.Cursor(context.Background(), a.cfg.Name); err == nil && cur > a.cursor {
			a.cursor = cur
			a.cfg.Progress.set(cur)
		}
	}
	for range (a.head-a.cursor)/int64(a.cfg.BatchSize) + 1 {
		if a.cursor >= a.head || !a.apply(a.deliver(a.cursor)) {
			return
		}
	}
}

func (a *outboxActor) saveCursor(ctx context.Context, id int64) error {
	tx, err := a.cfg.Store.Begin(ctx)
	if err != nil {
		return err
	}
	if err := tx.SetCursor(a.cfg.Name, id); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// scheduleRetry sends the actor a retryTick after the backoff pause of the
// consecutive failures so far.
func (a *outboxActor) scheduleRetry(c *actor.Context, err error) {
	a.failures++
	if a.failures == 1 {
		a.cfg.Logger.Warn("outbox: delivery failing; will retry", "dest", a.cfg.Name, "backlog", a.head-a.cursor, "err", err)
	}
	a.retry = true
	pid, engine, d := c.PID(), c.Engine(), a.backoff.Pause(a.failures)
	time.AfterFunc(d, func() { engine.Send(pid, retryTick{}) })
}
