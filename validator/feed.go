package validator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/internal/backoff"
	"github.com/revocd/revocd/revocation"
)

// Limits on what a node may send.
const (
	maxDocBytes   = 8 << 20  // one JSON document (JWKS, keys, snapshot page)
	maxLineBytes  = 64 << 10 // one line of the event stream
	snapshotLimit = 1000     // events per snapshot page
	maxPages      = 1 << 20  // snapshot pages (a billion events)
	jwksEvery     = 5 * time.Minute
)

// snapshotPage is one page of GET /revocations/active.
type snapshotPage struct {
	Events      []revocation.Event `json:"events"`
	NextCursor  string             `json:"next_cursor"`
	ResumeAfter int64              `json:"resume_after"`
}

// get fetches base+path into a JSON document, bounded by ctx and 10s.
func (v *Validator) get(ctx context.Context, base, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return nil, err
	}
	if v.opts.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+v.opts.APIKey)
	}
	res, err := v.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxDocBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.200s", path, res.Status, body)
	}
	if len(body) > maxDocBytes {
		return nil, fmt.Errorf("GET %s: document larger than %d bytes", path, maxDocBytes)
	}
	return body, nil
}

// bootstrap loads keys and the snapshot from node i.
func (v *Validator) bootstrap(ctx context.Context, i int) error {
	base := v.opts.URLs[i]
	if !v.pinned {
		doc, err := v.get(ctx, base, "/events/keys")
		if err != nil {
			return err
		}
		if err := v.events.TrustJSON(doc); err != nil {
			return fmt.Errorf("%s: /events/keys: %w", base, err)
		}
	}
	if err := v.loadJWKS(ctx, base); err != nil {
		return err
	}
	cursor := ""
	for range maxPages {
		doc, err := v.get(ctx, base, "/revocations/active?limit="+strconv.Itoa(snapshotLimit)+"&cursor="+cursor)
		if err != nil {
			return err
		}
		var page snapshotPage
		if err := json.Unmarshal(doc, &page); err != nil {
			return fmt.Errorf("%s: /revocations/active: %w", base, err)
		}
		for i := range page.Events {
			v.apply(ctx, &page.Events[i])
		}
		if page.NextCursor == "" {
			v.lastID.Store(page.ResumeAfter)
			v.touch()
			v.log.Info("revocd validator bootstrapped", "node", base, "resume_after", page.ResumeAfter, "active", v.ix.Stats().Entries)
			return nil
		}
		cursor = page.NextCursor
	}
	return fmt.Errorf("%s: /revocations/active: more than %d pages", base, maxPages)
}

// loadJWKS adds the node's published keys to the ring.
func (v *Validator) loadJWKS(ctx context.Context, base string) error {
	doc, err := v.get(ctx, base, "/.well-known/jwks.json")
	if err != nil {
		return err
	}
	keys, err := token.ParseJWKS(doc)
	if err != nil {
		return fmt.Errorf("%s: JWKS: %w", base, err)
	}
	for _, k := range keys {
		if old, ok := v.ring.Lookup(k.ID); !ok || old.Alg != k.Alg {
			v.ring.Add(k) // a revoked kid is never added again (Ring.Add)
		}
	}
	return nil
}

// refreshKeys fetches the JWKS for an unknown kid, at most once per
// KeyRefreshInterval; concurrent callers share one fetch. It reports
// whether a fetch ran that may have brought kid.
func (v *Validator) refreshKeys(kid []byte) bool {
	if len(kid) == 0 {
		return false
	}
	v.keyMu.Lock()
	ch := v.keyInflight
	if ch == nil {
		if v.opts.Now().Sub(v.keyLast) < v.opts.KeyRefreshInterval {
			v.keyMu.Unlock()
			return false
		}
		ch = make(chan struct{})
		v.keyInflight, v.keyLast = ch, v.opts.Now()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := v.loadJWKS(ctx, v.opts.URLs[v.node.Load()]); err != nil {
				v.log.Warn("revocd validator: JWKS refresh failed", "err", err)
			}
			v.keyMu.Lock()
			v.keyInflight = nil
			v.keyMu.Unlock()
			close(ch)
		}()
	}
	v.keyMu.Unlock()
	select {
	case <-ch:
		return true
	case <-time.After(5 * time.Second):
		return false
	}
}

// apply verifies e's signature and applies it to the index (and, for
// revoke_kid, to the key ring). An event whose signature does not verify
// is refused and counted: it is not a revocation this validator trusts.
// A replicated-state event (key_state, refresh_state: cluster state the
// nodes keep among themselves) is skipped: it revokes nothing, so it is
// neither applied nor refused.
func (v *Validator) apply(ctx context.Context, e *revocation.Event) bool {
	if e.Type.IsState() {
		return true
	}
	err := v.events.Verify(e)
	if errors.Is(err, eventsig.ErrUnknownKey) && !v.pinned {
		// A node's new or newly trusted event key: fetch the document again.
		if doc, gerr := v.get(ctx, v.opts.URLs[v.node.Load()], "/events/keys"); gerr == nil && v.events.TrustJSON(doc) == nil {
			err = v.events.Verify(e)
		}
	}
	if err != nil {
		v.rejected.Add(1)
		v.log.Error("revocd validator: event refused", "event_id", e.EventID, "err", err)
		return false
	}
	switch e.Type {
	case revocation.TypeJTI:
		v.ix.RevokeJTI(e.Value, e.ExpiresAt)
	case revocation.TypeSub:
		v.ix.RevokeSub(e.Value, e.SubCutoff(), e.ExpiresAt)
	case revocation.TypeKid:
		v.ix.RevokeKid(e.Value, e.ExpiresAt)
		v.ring.Revoke(e.Value)
	default:
		v.rejected.Add(1)
		return false
	}
	v.applied.Add(1)
	return true
}

// touch records that the view is current as of now.
func (v *Validator) touch() { v.lastBeat.Store(v.opts.Now().UnixNano()) }

// follow keeps a stream open until ctx ends: on a break it reconnects,
// to the next node in turn, after a capped, jittered pause, resuming
// after the last applied event.
func (v *Validator) follow(ctx context.Context) {
	defer close(v.done)
	go v.maintain(ctx)
	policy := backoff.Policy{Initial: 50 * time.Millisecond, Max: 2 * time.Second, Jitter: 0.5}
	failures := 0
	if v.opts.Source != nil {
		for ctx.Err() == nil {
			err := v.opts.Source.Run(ctx, sink{v})
			if ctx.Err() != nil {
				return
			}
			failures++
			v.log.Warn("revocd validator: event source stopped; restarting", "err", err)
			t := time.NewTimer(policy.Pause(failures))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		return
	}
	for ctx.Err() == nil {
		i := int(v.node.Load())
		got, err := v.stream(ctx, v.opts.URLs[i])
		if ctx.Err() != nil {
			return
		}
		if got {
			failures = 0
		}
		failures++
		if len(v.opts.URLs) > 1 {
			v.node.Store(int64((i + 1) % len(v.opts.URLs)))
		}
		v.log.Warn("revocd validator: event stream broken; reconnecting", "node", v.opts.URLs[i], "err", err, "last_event_id", v.lastID.Load())
		t := time.NewTimer(policy.Pause(failures))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// maintain sweeps expired revocations and refreshes the JWKS periodically.
func (v *Validator) maintain(ctx context.Context) {
	sweep := time.NewTicker(10 * time.Second)
	defer sweep.Stop()
	jwks := time.NewTicker(jwksEvery)
	defer jwks.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
			v.ix.Sweep()
		case <-jwks.C:
			c, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := v.loadJWKS(c, v.opts.URLs[v.node.Load()]); err != nil {
				v.log.Warn("revocd validator: JWKS refresh failed", "err", err)
			}
			cancel()
		}
	}
}

// stream reads one event stream from base until it breaks. got reports
// whether anything arrived (to reset the backoff).
func (v *Validator) stream(ctx context.Context, base string) (got bool, err error) {
	after := v.lastID.Load()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/events/stream?after="+strconv.FormatInt(after, 10), nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Last-Event-ID", strconv.FormatInt(after, 10))
	if v.opts.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+v.opts.APIKey)
	}
	res, err := v.client.Do(req)
	if err != nil {
		return false, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return false, fmt.Errorf("GET /events/stream: %s: %s", res.Status, body)
	}
	// The connection can go silent without an error (a dead peer): a
	// watchdog closes the body when nothing arrived for MaxStaleness, so
	// the reconnect starts while Validate already fails closed.
	heard := make(chan struct{}, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTimer(v.opts.MaxStaleness)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-heard:
				if !t.Stop() {
					<-t.C
				}
				t.Reset(v.opts.MaxStaleness)
			case <-t.C:
				res.Body.Close()
				return
			}
		}
	}()
	r := bufio.NewReaderSize(res.Body, 16<<10)
	var id int64
	var event string
	var data []byte
	for {
		line, err := readLine(r)
		if err != nil {
			return got, err
		}
		select {
		case heard <- struct{}{}:
		default:
		}
		switch {
		case len(line) == 0: // dispatch
			if event == "revocation" && len(data) > 0 {
				var e revocation.Event
				if err := json.Unmarshal(data, &e); err != nil {
					return got, fmt.Errorf("event %d: %w", id, err)
				}
				v.apply(ctx, &e)
				if id > v.lastID.Load() {
					v.lastID.Store(id)
				}
				got = true
			}
			event, data = "", data[:0]
		case line[0] == ':':
			// A heartbeat: revocd sends one once the backlog is out and
			// every few seconds after, so only it makes the view fresh
			// (an event alone may be the first of a long backlog).
			v.touch()
			v.beats.Add(1)
			got = true
		default:
			name, value, _ := bytes.Cut(line, []byte(":"))
			value = bytes.TrimPrefix(value, []byte(" "))
			switch string(name) {
			case "id":
				if n, err := strconv.ParseInt(string(value), 10, 64); err == nil {
					id = n
				}
			case "event":
				event = string(value)
			case "data":
				if len(data) > 0 {
					data = append(data, '\n')
				}
				data = append(data, value...)
			}
		}
	}
}

// readLine returns the next line without its line ending, refusing lines
// longer than maxLineBytes.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLineBytes {
			return nil, fmt.Errorf("event stream line longer than %d bytes", maxLineBytes)
		}
		if err == nil {
			return bytes.TrimRight(line, "\r\n"), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
}
