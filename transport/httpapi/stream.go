package httpapi

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// FeedLog is the read side of the audit log that the event stream
// (GET /events/stream) and the active-revocations snapshot
// (GET /revocations/active) read. server/ implements it over the SQLite
// store. Implementations must be safe for concurrent use.
type FeedLog interface {
	// EventsAfter returns up to limit committed events after audit-log
	// position after, in audit-log order.
	EventsAfter(ctx context.Context, after int64, limit int) ([]LoggedEvent, error)
	// LastEventID returns the audit log's last position (0 when empty).
	LastEventID(ctx context.Context) (int64, error)
	// ActiveEventsPage returns up to limit events in force at nowMs whose
	// position lies in (after, upto], in audit-log order.
	ActiveEventsPage(ctx context.Context, nowMs, after, upto int64, limit int) ([]LoggedEvent, error)
}

// Feed configures the event stream and the snapshot: the log they read,
// the notifier that wakes streams on a commit, and who may read them.
// Revocation state says who is revoked, so both need a key: an admin key,
// or one of the read-only APIKeys (FEED_API_KEYS), which can subscribe but
// not issue or revoke.
type Feed struct {
	// Log is the audit log's read side (required).
	Log FeedLog
	// Notifier wakes open streams when the audit writer commits (required).
	Notifier *Notifier
	// Heartbeat is the interval of the ": heartbeat" comment every open
	// stream gets (2s if zero): what a subscriber's staleness measures.
	Heartbeat time.Duration
	// APIKeys (FEED_API_KEYS) are read-only keys accepted as
	// "Authorization: Bearer <key>" on the stream and the snapshot.
	APIKeys []string
	// MaxStreams bounds the streams open at once (256 if zero); beyond
	// it, GET /events/stream answers 503.
	MaxStreams int

	once   sync.Once
	hashes [][32]byte
	open   atomic.Int64
}

// Notifier tells waiting event streams that the audit log grew. Its zero
// value is ready to use; it is safe for concurrent use.
type Notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

// NewNotifier returns a Notifier.
func NewNotifier() *Notifier { return &Notifier{} }

// Notify wakes every stream waiting for events: the audit writer committed
// up to position lastID (a batch without events, lastID 0, wakes nobody).
// It never blocks.
func (n *Notifier) Notify(lastID int64) {
	if n == nil || lastID <= 0 {
		return
	}
	n.mu.Lock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
	n.mu.Unlock()
}

// changed returns a channel closed by the next Notify.
func (n *Notifier) changed() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

// streamPage is how many events a stream reads from the log at once.
const streamPage = 500

// feedAuthorized reports whether the request may read the feed: dev mode,
// an admin key or a read-only feed key (constant time against each).
func (a *API) feedAuthorized(ctx *fasthttp.RequestCtx, f *Feed) bool {
	h := ctx.Request.Header.Peek("Authorization")
	if a.authorized(ctx) {
		return true
	}
	f.once.Do(func() {
		for _, k := range f.APIKeys {
			if k != "" {
				f.hashes = append(f.hashes, sha256.Sum256([]byte(k)))
			}
		}
	})
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !equalFoldASCII(h[:len(prefix)], prefix) {
		return false
	}
	sum := sha256.Sum256(h[len(prefix):])
	ok := 0
	for i := range f.hashes {
		ok |= subtle.ConstantTimeCompare(sum[:], f.hashes[i][:])
	}
	return ok == 1
}

// feed returns the configured Feed, or ErrNotFound when the node has none.
func (a *API) feedFor(ctx *fasthttp.RequestCtx) (*Feed, error) {
	f := a.d.Feed
	if f == nil || f.Log == nil || f.Notifier == nil {
		return nil, ErrNotFound
	}
	if !a.feedAuthorized(ctx, f) {
		return nil, ErrUnauthorized
	}
	return f, nil
}

// stream serves GET /events/stream?after=N: a server-sent-events stream of
// every event committed after audit-log position N (or after the
// Last-Event-ID header, which wins: a reconnecting EventSource sends it).
// Each event is "id: <position>", "event: revocation" and "data: <the
// signed event JSON of GET /revocations>"; a ": heartbeat" comment goes out
// every Feed.Heartbeat, and once the backlog is sent, so a subscriber tells
// a quiet feed from a dead one and knows when it has caught up.
// The stream ends when the client goes away or the server shuts down.
func (a *API) stream(ctx *fasthttp.RequestCtx) error {
	f, err := a.feedFor(ctx)
	if err != nil {
		return err
	}
	after, err := queryInt(ctx, "after", 0)
	if err != nil {
		return err
	}
	if v := ctx.Request.Header.Peek("Last-Event-ID"); len(v) > 0 {
		if after, err = strconv.ParseInt(string(v), 10, 64); err != nil {
			return requestError(ErrInvalidField, "Last-Event-ID: expected an integer")
		}
	}
	if after < 0 {
		return requestError(ErrInvalidField, "after must be >= 0")
	}
	maxStreams := int64(f.MaxStreams)
	if maxStreams <= 0 {
		maxStreams = 256
	}
	if f.open.Add(1) > maxStreams {
		f.open.Add(-1)
		ctx.Response.Header.Set("Retry-After", "1")
		writeJSON(ctx, http.StatusServiceUnavailable, map[string]string{"detail": "Too many event streams open"})
		return nil
	}
	beat := f.Heartbeat
	if beat <= 0 {
		beat = 2 * time.Second
	}
	ctx.SetContentType("text/event-stream")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.Response.Header.Set("X-Accel-Buffering", "no")
	// A stream outlives HTTP_WRITE_TIMEOUT_SECONDS by design: a zero write
	// deadline, and a client that stops reading is found by the failing
	// heartbeat write once the socket buffers fill.
	_ = ctx.SetWriteDeadline(time.Time{})
	done := ctx.Done()
	log := a.log
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer f.open.Add(-1)
		if err := runStream(w, f, after, beat, done); err != nil {
			log.Debug("event stream ended", "err", err)
		}
	})
	return nil
}

// runStream writes the stream until a write fails or done closes.
func runStream(w *bufio.Writer, f *Feed, after int64, beat time.Duration, done <-chan struct{}) error {
	// A heartbeat always follows a read of the log that found nothing
	// more: it means "caught up as of now", so a subscriber that resumed
	// after a break is fresh only once it has every event it missed.
	if _, err := w.WriteString("retry: 1000\n"); err != nil {
		return err
	}
	beatDue := true
	hb := time.NewTicker(beat)
	defer hb.Stop()
	var buf []byte
	for {
		changed := f.Notifier.changed()
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rows, err := f.Log.EventsAfter(c, after, streamPage)
		cancel()
		if err != nil {
			return err
		}
		for _, r := range rows {
			body, err := json.Marshal(r.Event)
			if err != nil {
				return err
			}
			buf = append(buf[:0], "id: "...)
			buf = strconv.AppendInt(buf, r.ID, 10)
			buf = append(buf, "\nevent: revocation\ndata: "...)
			buf = append(buf, body...)
			buf = append(buf, "\n\n"...)
			if _, err := w.Write(buf); err != nil {
				return err
			}
			after = r.ID
		}
		if len(rows) == streamPage {
			if err := w.Flush(); err != nil {
				return err
			}
			continue
		}
		if beatDue {
			beatDue = false
			if _, err := w.WriteString(": heartbeat\n\n"); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		select {
		case <-changed:
		case <-hb.C:
			beatDue = true
		case <-done:
			return nil
		}
	}
}
