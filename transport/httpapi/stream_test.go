package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/revocation"
)

// memFeedLog is an in-memory FeedLog.
type memFeedLog struct {
	mu     sync.Mutex
	events []LoggedEvent
}

func (m *memFeedLog) add(n *Notifier, expiresAt int64) int64 {
	m.mu.Lock()
	id := int64(len(m.events) + 1)
	m.events = append(m.events, LoggedEvent{ID: id, Event: revocation.Event{
		EventID: fmt.Sprintf("e%d", id), Type: revocation.TypeJTI, Value: fmt.Sprintf("jti-%d", id), ExpiresAt: expiresAt,
	}})
	m.mu.Unlock()
	n.Notify(id)
	return id
}

func (m *memFeedLog) EventsAfter(_ context.Context, after int64, limit int) ([]LoggedEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []LoggedEvent
	for _, e := range m.events {
		if e.ID > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memFeedLog) LastEventID(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.events)), nil
}

func (m *memFeedLog) ActiveEventsPage(_ context.Context, nowMs, after, upto int64, limit int) ([]LoggedEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []LoggedEvent
	for _, e := range m.events {
		if e.ID > after && e.ID <= upto && e.Event.ExpiresAt > nowMs && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

const (
	feedTestAdminKey = "admin-key-0123456789"
	feedTestFeedKey  = "feed-key-0123456789"
)

// serveFeed serves an API with feed f on a loopback port.
func serveFeed(t *testing.T, f *Feed) string {
	t.Helper()
	a := newTestAPI(t, Deps{Options: Options{AdminAPIKeys: []string{feedTestAdminKey}}, Index: index.New(index.Options{}), Feed: f})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: a.Handler(), WriteTimeout: 50 * time.Millisecond}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

func feedGet(t *testing.T, url, key string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestFeedNeedsAKey: revocation state says who is revoked, so the stream
// and the snapshot answer 401 without an admin or a feed key.
func TestFeedNeedsAKey(t *testing.T) {
	log := &memFeedLog{}
	base := serveFeed(t, &Feed{Log: log, Notifier: NewNotifier(), APIKeys: []string{feedTestFeedKey}})
	for _, path := range []string{"/revocations/active", "/events/stream"} {
		for _, tc := range []struct {
			key  string
			want int
		}{{"", 401}, {"wrong-key-0123456789", 401}, {feedTestAdminKey, 200}, {feedTestFeedKey, 200}} {
			res := feedGet(t, base+path, tc.key)
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Errorf("%s with key %q: %d, want %d", path, tc.key, res.StatusCode, tc.want)
			}
		}
	}
	// A feed key is read-only: it opens no admin endpoint.
	res := feedGet(t, base+"/token/inspect?token=x", feedTestFeedKey)
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Errorf("/token/inspect with a feed key: %d, want 401", res.StatusCode)
	}
}

// TestSnapshotPagesUpToItsStart: the snapshot pages the active events as
// of its first page and says where the stream resumes; an event committed
// while paging is left to the stream, an expired one is skipped.
func TestSnapshotPagesUpToItsStart(t *testing.T) {
	log, n := &memFeedLog{}, NewNotifier()
	future := time.Now().Add(time.Hour).UnixMilli()
	log.add(n, future)
	log.add(n, 1) // expired
	log.add(n, future)
	log.add(n, future)
	base := serveFeed(t, &Feed{Log: log, Notifier: n, APIKeys: []string{feedTestFeedKey}})
	var ids []string
	cursor, resume := "", int64(-1)
	for range 10 {
		res := feedGet(t, base+"/revocations/active?limit=2&cursor="+cursor, feedTestFeedKey)
		var page ActiveSnapshot
		if err := json.NewDecoder(res.Body).Decode(&page); err != nil || res.StatusCode != 200 {
			t.Fatalf("status %d, decode %v", res.StatusCode, err)
		}
		res.Body.Close()
		if resume == -1 {
			resume = page.ResumeAfter
			log.add(n, future) // committed while paging
		} else if page.ResumeAfter != resume {
			t.Fatalf("resume_after moved from %d to %d", resume, page.ResumeAfter)
		}
		for _, e := range page.Events {
			ids = append(ids, e.EventID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if got := strings.Join(ids, ","); got != "e1,e3,e4" || resume != 4 {
		t.Fatalf("snapshot %s resume %d, want e1,e3,e4 resume 4", got, resume)
	}
	for _, cur := range []string{"1.9", "x", "3", "-1.0"} {
		res := feedGet(t, base+"/revocations/active?cursor="+cur, feedTestFeedKey)
		res.Body.Close()
		if res.StatusCode != 422 && res.StatusCode != 400 {
			t.Errorf("cursor %q: %d, want a client error", cur, res.StatusCode)
		}
	}
}

// TestStreamResumesWakesAndBeats: the stream starts after Last-Event-ID
// (not the query's after), delivers a commit as soon as the notifier
// fires, beats while quiet, and outlives the server's write timeout.
func TestStreamResumesWakesAndBeats(t *testing.T) {
	log, n := &memFeedLog{}, NewNotifier()
	future := time.Now().Add(time.Hour).UnixMilli()
	log.add(n, future)
	log.add(n, future)
	base := serveFeed(t, &Feed{Log: log, Notifier: n, APIKeys: []string{feedTestFeedKey}, Heartbeat: 20 * time.Millisecond})
	res := feedGet(t, base+"/events/stream?after=0", feedTestFeedKey, "Last-Event-ID", "1")
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("status %d content type %q", res.StatusCode, ct)
	}
	r := bufio.NewReader(res.Body)
	// next returns the next event's id, counting heartbeats before it.
	next := func() (id string, beats int) {
		for range 1000 {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended: %v", err)
			}
			switch {
			case line == ": heartbeat\n":
				beats++
			case strings.HasPrefix(line, "id: "):
				id = strings.TrimSpace(line[4:])
			case strings.HasPrefix(line, "data: "):
				var e revocation.Event
				if err := json.Unmarshal([]byte(line[6:]), &e); err != nil || e.EventID != "e"+id {
					t.Fatalf("data %q for id %s: %v", line, id, err)
				}
				return id, beats
			}
		}
		t.Fatal("no event in 1000 lines")
		return "", 0
	}
	if id, _ := next(); id != "2" {
		t.Fatalf("first event %s, want 2 (after Last-Event-ID 1)", id)
	}
	// Quiet for longer than the write timeout: heartbeats keep coming.
	deadline := time.Now().Add(150 * time.Millisecond)
	beats := 0
	for time.Now().Before(deadline) {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended while quiet after %d heartbeats: %v", beats, err)
		}
		if line == ": heartbeat\n" {
			beats++
		}
	}
	if beats < 2 {
		t.Fatalf("%d heartbeats in 150ms at a 20ms interval", beats)
	}
	log.add(n, future)
	if id, _ := next(); id != "3" {
		t.Fatalf("event after the notify: %s, want 3", id)
	}
}
