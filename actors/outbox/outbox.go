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
// Timeout per batch.
package outbox

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"

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

type (
	pollTick  struct{}
	retryTick struct{}
)

// delivered reports one delivery attempt of the goroutine started by drain.
// through is the new cursor (0: nothing was delivered); empty means the
// audit log holds nothing after the cursor.
type delivered struct {
	through int64
	empty   bool
	err     error
}

// Progress is the delivery state of one destination, readable from any
// goroutine: the acknowledged cursor, the last error, and a way to wait for
// the cursor to pass a position. The zero value is ready to use.
type Progress struct {
	cursor  atomic.Int64
	head    atomic.Int64
	healthy atomic.Bool
	mu      sync.Mutex
	lastErr string
	advance chan struct{}
}

func (p *Progress) set(cursor int64) {
	p.cursor.Store(cursor)
	p.mu.Lock()
	if p.advance != nil {
		close(p.advance)
		p.advance = nil
	}
	p.mu.Unlock()
}

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

// Wait blocks until the cursor reaches id or ctx ends; it reports whether
// the cursor reached id.
func (p *Progress) Wait(ctx context.Context, id int64) bool {
	for {
		p.mu.Lock()
		if p.cursor.Load() >= id {
			p.mu.Unlock()
			return true
		}
		if p.advance == nil {
			p.advance = make(chan struct{})
		}
		ch := p.advance
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return p.cursor.Load() >= id
		}
	}
}

type outboxActor struct {
	cfg      Config
	cursor   int64
	head     int64
	backoff  time.Duration
	retry    bool          // a retry tick is scheduled
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
	return func() actor.Receiver { return &outboxActor{cfg: cfg} }
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
		if a.apply(m) {
			a.drain(c)
		} else if m.err != nil {
			a.scheduleRetry(c, m.err)
		}
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
	a.backoff = 0
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

func (a *outboxActor) scheduleRetry(c *actor.Context, err error) {
	if a.backoff == 0 {
		a.backoff = a.cfg.MinBackoff
		a.cfg.Logger.Warn("outbox: delivery failing; will retry", "dest", a.cfg.Name, "backlog", a.head-a.cursor, "err", err)
	} else {
		a.backoff = min(a.backoff*2, a.cfg.MaxBackoff)
	}
	a.retry = true
	pid, engine, d := c.PID(), c.Engine(), a.backoff
	time.AfterFunc(d, func() { engine.Send(pid, retryTick{}) })
}
