package cluster

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	hremote "github.com/anthdm/hollywood/remote"

	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/remote"
)

// bigEvent is a valid event of origin with long value and reason (about
// 2 KiB encoded).
func bigEvent(origin string, seq uint64) revocation.Event {
	e := event(origin, seq)
	e.Value = fmt.Sprintf("%d-%s", seq, strings.Repeat("v", revocation.MaxValueLen-24))
	e.Reason = strings.Repeat("r", revocation.MaxReasonLen)
	e.Sig = sigFor(e)
	return e
}

// largestEvent is a valid event of origin with every field Validate
// bounds at its longest and a signature of MaxSigLen bytes.
func largestEvent(origin string, seq uint64) revocation.Event {
	e := maxEvent()
	e.Origin, e.Seq, e.TS, e.ExpiresAt = origin, seq, time.Now().UnixMilli(), time.Now().Add(time.Hour).UnixMilli()
	id := fmt.Sprintf("%s-%d-", origin, seq)
	e.EventID = id + e.EventID[len(id):]
	e.Value = id + e.Value[len(id):]
	e.Sig = paddedSigFor(e)
	return e
}

// TestLargestEventsReplicate: the bounds leave room for legitimate
// traffic of the largest events: a live commit of several batches' worth
// (split by Broadcast) and a late joiner's catch-up over more than one
// resend round arrive whole, and nothing is refused.
func TestLargestEventsReplicate(t *testing.T) {
	const live, backlog = 3*MaxBatchEvents + 1, ResendBudget + PageSize
	aAddr, bAddr, cAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	// Rounds of this size take a while to move and apply under -race on a
	// busy machine: sync intervals of a second keep them from counting as
	// lost (or the peer as silent) while they do.
	slow := func(c *Config) { c.SyncInterval = time.Second }
	a := startTestNode(t, "a", aAddr, map[string]string{"b": bAddr, "c": cAddr}, nil, slow)
	b := startTestNode(t, "b", bAddr, map[string]string{"a": aAddr}, nil, slow)
	eventually(t, 5*time.Second, "a and b connected", func() bool { return a.node.Status()[0].Connected })
	a.commitWith(live, largestEvent)
	eventually(t, 10*time.Second, "b got the live commit", func() bool { return b.store.count("a") == live })
	a.commitWith(backlog-live, largestEvent)
	c := startTestNode(t, "c", cAddr, map[string]string{"a": aAddr}, nil, slow)
	eventually(t, 20*time.Second, "c caught up", func() bool { return c.store.count("a") == backlog })
	for _, n := range []*testNode{a, b, c} {
		if got := n.metric("revocd_cluster_messages_rejected_total", "", ""); got != 0 {
			t.Errorf("%s refused %v messages", n.id, got)
		}
		n.mu.Lock()
		if n.dropped != 0 {
			t.Errorf("%s dropped %d events", n.id, n.dropped)
		}
		n.mu.Unlock()
	}
}

func eventsOf(n int, seq0 uint64, mk func(string, uint64) revocation.Event) []revocation.Event {
	out := make([]revocation.Event, n)
	for i := range out {
		out[i] = mk("b", seq0+uint64(i))
	}
	return out
}

// TestOversizeRefused: a frame beyond MaxFrameBytes, a message beyond
// MaxBatchBytes and a batch of more than MaxBatchEvents events, each sent
// by a rogue claiming to be peer b, are refused, counted and logged; none
// of their (validly signed) events is stored, and the node still takes a
// normal batch afterwards.
func TestOversizeRefused(t *testing.T) {
	aAddr, bAddr := freeAddr(t), freeAddr(t)
	a := startTestNode(t, "a", aAddr, map[string]string{"b": bAddr}, nil)
	// A single event whose value alone exceeds a whole batch's bound.
	huge := event("b", 1_000_000)
	huge.Value = strings.Repeat("x", MaxBatchBytes)
	huge.Sig = sigFor(huge)
	frameEvents := MaxFrameBytes/ToProto([]revocation.Event{bigEvent("b", 1)})[0].SizeVT() + 1
	tests := []struct {
		name   string
		reason string
		events []revocation.Event
	}{
		{"frame beyond MaxFrameBytes", rejectFrameTooLarge, eventsOf(frameEvents, 1, bigEvent)},
		{"message beyond MaxBatchBytes", rejectMessageTooLarge, []revocation.Event{huge}},
		{"more than MaxBatchEvents events", rejectBatchTooLarge, eventsOf(MaxBatchEvents+1, 1, event)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := &remote.EventBatch{NodeId: "b", Events: ToProto(tc.events)}
			// A fresh sender each time: the refused frame's connection is
			// closed under its stream writer.
			rogue(t).Send(PIDFor(aAddr), msg)
			eventually(t, 20*time.Second, tc.reason+" counted", func() bool {
				return a.metric("revocd_cluster_messages_rejected_total", "reason", tc.reason) == 1
			})
			if !a.warned("peer message refused: too large") {
				t.Error("no WARN logged")
			}
			if n := a.store.total(); n != 0 {
				t.Fatalf("%d events of the refused message stored", n)
			}
		})
	}
	good := &remote.EventBatch{NodeId: "b", Events: ToProto([]revocation.Event{event("b", 1)})}
	rogue(t).Send(PIDFor(aAddr), good)
	eventually(t, 5*time.Second, "a normal batch is still taken", func() bool { return a.store.total() == 1 })
	if n := a.store.total(); n != 1 {
		t.Fatalf("store holds %d events, want only the normal batch's", n)
	}
}

// helloEnvelope returns a hollywood envelope holding one Hello (data) for
// the actor targetID, and its message.
func helloEnvelope(targetID string, data []byte) (*hremote.Envelope, *hremote.Message) {
	msg := &hremote.Message{Data: data}
	return &hremote.Envelope{
		Targets: []*actor.PID{{Address: "x", ID: targetID}}, TypeNames: []string{helloType}, Messages: []*hremote.Message{msg},
	}, msg
}

// TestRemoteInputRefused: messages the replicator has no use for, and
// envelopes a rogue crafts, are refused and counted, not delivered (nor a
// panic, as in hollywood's own reader).
func TestRemoteInputRefused(t *testing.T) {
	a := startTestNode(t, "a", freeAddr(t), nil, nil)
	r := &receiver{self: a.node.PID(), engine: a.engine}
	r.setRefusals(&refusals{m: a.node.m, log: a.node.log})
	hello, _ := (&remote.Hello{NodeId: "mallory"}).MarshalVT()
	tests := []struct {
		name   string
		reason string
		spoil  func(*hremote.Envelope, *hremote.Message)
	}{
		{"type index out of range", rejectMalformed, func(_ *hremote.Envelope, m *hremote.Message) { m.TypeNameIndex = 5 }},
		{"target index out of range", rejectMalformed, func(_ *hremote.Envelope, m *hremote.Message) { m.TargetIndex = -1 }},
		{"another local actor", rejectUnknownTarget, func(e *hremote.Envelope, _ *hremote.Message) { e.Targets[0].ID = remoteKind + "/" + ID }},
		{"another registered type", rejectUnknownType, func(e *hremote.Envelope, _ *hremote.Message) { e.TypeNames[0] = "actor.PID" }},
		{"undecodable payload", rejectMalformed, func(_ *hremote.Envelope, m *hremote.Message) { m.Data = []byte{0x0a, 0xff} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, msg := helloEnvelope(a.node.PID().ID, hello)
			tc.spoil(env, msg)
			before := a.metric("revocd_cluster_messages_rejected_total", "reason", tc.reason)
			r.deliver(env, msg, "test", nil)
			if got := a.metric("revocd_cluster_messages_rejected_total", "reason", tc.reason); got != before+1 {
				t.Fatalf("%s counted %v times, want 1", tc.reason, got-before)
			}
		})
	}
	// The intact envelope is delivered (the replicator ignores mallory);
	// had any spoiled one been, it would have been counted before it.
	env, msg := helloEnvelope(a.node.PID().ID, hello)
	r.deliver(env, msg, "test", nil)
	eventually(t, 5*time.Second, "intact envelope delivered", func() bool {
		return a.metric("revocd_cluster_messages_rejected_total", "reason", "unknown_peer") >= 1
	})
	if got := a.metric("revocd_cluster_messages_rejected_total", "reason", "unknown_peer"); got != 1 {
		t.Fatalf("%v messages reached the replicator, want only the intact one", got)
	}
}

// TestSpoofedHelloStormBounded: a storm of Hellos with empty digests that
// claim to come from peer b makes a resend at most one round
// (ResendBudget events) to b per ResendInterval; the rest are counted as
// suppressed. Each Hello is sent once the previous one was handled (it
// either was suppressed or its round was sent), so none is absorbed by the
// resender keeping only the newest digest.
func TestSpoofedHelloStormBounded(t *testing.T) {
	const storm = 20
	aAddr, bAddr := freeAddr(t), freeAddr(t)
	a := startTestNode(t, "a", aAddr, map[string]string{"b": bAddr}, nil, func(c *Config) { c.ResendInterval = time.Hour })
	a.commit(3 * ResendBudget)
	r := rogue(t)
	handled := func() int {
		rounds := int(a.metric("revocd_cluster_resent_total", "peer", "b")) / ResendBudget
		return rounds + int(a.metric("revocd_cluster_resends_suppressed_total", "peer", "b"))
	}
	for i := range storm {
		r.Send(PIDFor(aAddr), &remote.Hello{NodeId: "b"})
		eventually(t, 10*time.Second, fmt.Sprintf("spoofed Hello %d handled", i), func() bool { return handled() > i })
	}
	if got := a.metric("revocd_cluster_resent_total", "peer", "b"); got != ResendBudget {
		t.Errorf("resent to b = %v events for %d spoofed Hellos, want one round of %d", got, storm, ResendBudget)
	}
	if got := a.metric("revocd_cluster_resends_suppressed_total", "peer", "b"); got != storm-1 {
		t.Errorf("suppressed = %v, want %d", got, storm-1)
	}
}

// TestLostRoundIsRetried: a round the peer never acknowledges (here b
// is not running, so it is lost) does not block resends to it for good:
// once the peer's digests showed no progress for a few sync intervals, the
// newest pending digest is answered.
func TestLostRoundIsRetried(t *testing.T) {
	aAddr, bAddr := freeAddr(t), freeAddr(t)
	a := startTestNode(t, "a", aAddr, map[string]string{"b": bAddr}, nil)
	a.commit(10)
	r := rogue(t)
	r.Send(PIDFor(aAddr), &remote.Hello{NodeId: "b"})
	eventually(t, 5*time.Second, "first round sent", func() bool { return a.metric("revocd_cluster_resent_total", "peer", "b") == 10 })
	r.Send(PIDFor(aAddr), &remote.Hello{NodeId: "b"})
	eventually(t, 10*time.Second, "the lost round resent", func() bool { return a.metric("revocd_cluster_resent_total", "peer", "b") == 20 })
}

// TestCatchUpContinuesAtOnce: the resend interval does not slow a real
// catch-up: a peer that applied a whole round that stopped at its budget
// gets the next one at once, so a late joiner with more than two rounds
// to fetch converges although the interval is an hour.
func TestCatchUpContinuesAtOnce(t *testing.T) {
	const total = 2*ResendBudget + 300
	aAddr, bAddr := freeAddr(t), freeAddr(t)
	hour := func(c *Config) { c.ResendInterval = time.Hour }
	a := startTestNode(t, "a", aAddr, map[string]string{"b": bAddr}, nil, hour)
	a.commit(total)
	b := startTestNode(t, "b", bAddr, map[string]string{"a": aAddr}, nil, hour)
	eventually(t, 20*time.Second, "b holds all of a's events", func() bool { return b.store.count("a") == total })
	if got := a.metric("revocd_cluster_resent_total", "peer", "b"); got != total {
		t.Errorf("resent to b = %v, want each event once (%d)", got, total)
	}
}

// TestEmptyRoundsDoNotDelayRepair: Hellos that find nothing to resend do
// not use up the resend interval, so a peer that turns out to lack events
// gets them at its next Hello although the interval is an hour.
func TestEmptyRoundsDoNotDelayRepair(t *testing.T) {
	aAddr, bAddr := freeAddr(t), freeAddr(t)
	hour := func(c *Config) { c.ResendInterval = time.Hour }
	a := startTestNode(t, "a", aAddr, map[string]string{"b": bAddr}, nil, hour)
	b := startTestNode(t, "b", bAddr, map[string]string{"a": aAddr}, nil, hour)
	eventually(t, 5*time.Second, "a answered a Hello of b", func() bool { return a.node.peerDigest("b") != nil })
	// Events a holds but never broadcast: only a resend brings them to b.
	evs := eventsOf(5, 1, func(_ string, seq uint64) revocation.Event { return event("a", seq) })
	a.store.insert(evs)
	a.node.noteLocal(5)
	eventually(t, 5*time.Second, "b repaired by its next Hello", func() bool { return b.store.count("a") == 5 })
}

// TestForgedEventDoesNotShadowGenuine: a forged event carrying a genuine
// event's id (and origin and seq) arriving just before the genuine one
// must not make the node drop the genuine one: it is applied at once, not
// when anti-entropy brings it again (here: never, b is not running).
func TestForgedEventDoesNotShadowGenuine(t *testing.T) {
	aAddr, bAddr := freeAddr(t), freeAddr(t)
	a := startTestNode(t, "a", aAddr, map[string]string{"b": bAddr}, nil)
	r := rogue(t)
	tests := []struct {
		name  string
		forge func(*revocation.Event)
		order string
	}{
		{"other value, forged first", func(e *revocation.Event) { e.Value = "someone-elses-token" }, "forged"},
		{"bad signature, forged first", func(e *revocation.Event) { e.Sig = []byte("forged") }, "forged"},
		{"other seq, forged first", func(e *revocation.Event) { e.Seq += 1000 }, "forged"},
		{"other value, genuine first", func(e *revocation.Event) { e.Value = "someone-elses-token" }, "genuine"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			genuine := event("b", uint64(i+1))
			forged := genuine
			tc.forge(&forged)
			batch := []revocation.Event{forged, genuine}
			if tc.order == "genuine" {
				batch = []revocation.Event{genuine, forged}
			}
			a.mu.Lock()
			dropped := a.dropped
			a.mu.Unlock()
			r.Send(PIDFor(aAddr), &remote.EventBatch{NodeId: "b", Events: ToProto(batch)})
			eventually(t, 5*time.Second, "genuine event applied", func() bool { return a.store.count("b") == i+1 })
			a.mu.Lock()
			defer a.mu.Unlock()
			if a.dropped != dropped+1 {
				t.Errorf("forged copies dropped = %d, want 1", a.dropped-dropped)
			}
		})
	}
}

// TestSameEventComparesEveryField: an event differing from another in
// any one field is not a copy of it.
func TestSameEventComparesEveryField(t *testing.T) {
	base := event("b", 1)
	ty := reflect.TypeOf(base)
	for i := range ty.NumField() {
		t.Run(ty.Field(i).Name, func(t *testing.T) {
			other := base
			other.Sig = append([]byte(nil), base.Sig...)
			f := reflect.ValueOf(&other).Elem().Field(i)
			switch f.Kind() {
			case reflect.String:
				f.SetString(f.String() + "x")
			case reflect.Int64:
				f.SetInt(f.Int() + 1)
			case reflect.Uint64:
				f.SetUint(f.Uint() + 1)
			case reflect.Slice:
				if f.Len() == 0 { // Data: empty on a revocation
					f.SetBytes([]byte{1})
					break
				}
				f.Index(0).SetUint(f.Index(0).Uint() ^ 1)
			default:
				t.Fatalf("field kind %s not covered", f.Kind())
			}
			if sameEvent(&base, &other) {
				t.Fatalf("events differing in %s are the same", ty.Field(i).Name)
			}
		})
	}
	cp := base
	cp.Sig = append([]byte(nil), base.Sig...)
	if !sameEvent(&base, &cp) {
		t.Fatal("a copy is not the same event")
	}
}

// TestEventBoundsMatchValidate pins the field bounds maxEvent uses to
// revocation.Event.Validate: the largest event validates, and one byte
// more in any bounded field does not.
func TestEventBoundsMatchValidate(t *testing.T) {
	e := maxEvent()
	if err := e.Validate(); err != nil {
		t.Fatalf("largest event: %v", err)
	}
	for name, grow := range map[string]func(*revocation.Event){
		"EventID": func(e *revocation.Event) { e.EventID += "x" },
		"Value":   func(e *revocation.Event) { e.Value += "x" },
		"Reason":  func(e *revocation.Event) { e.Reason += "x" },
		"Origin":  func(e *revocation.Event) { e.Origin += "x" },
		"KeyID":   func(e *revocation.Event) { e.KeyID += "x" },
	} {
		e := maxEvent()
		grow(&e)
		if err := e.Validate(); !errors.Is(err, revocation.ErrTooLong) {
			t.Errorf("%s one byte longer: %v, want ErrTooLong", name, err)
		}
	}
	if MaxFrameBytes < MaxBatchBytes || MaxBatchBytes < MaxBatchEvents*MaxEventBytes {
		t.Fatalf("bounds do not nest: frame %d, batch %d, event %d", MaxFrameBytes, MaxBatchBytes, MaxEventBytes)
	}
}

// TestFrameLimitStaysAtRevocationSize pins what a reader may buffer per
// connection: state events (up to revocation.MaxDataLen of Data each) make
// the largest batch about three times larger, but this node's sender puts at
// most one batch beyond frameBudget in a frame, so the frame limit stays
// what older nodes' packed resend rounds of revocations need, and every
// batch this node can send still fits.
func TestFrameLimitStaysAtRevocationSize(t *testing.T) {
	if MaxFrameBytes != legacyFrameBytes() {
		t.Fatalf("MaxFrameBytes = %d, want the revocation-only bound %d", MaxFrameBytes, legacyFrameBytes())
	}
	if MaxFrameBytes > 32<<20 {
		t.Fatalf("MaxFrameBytes = %d MiB: a reader buffers that much per connection", MaxFrameBytes>>20)
	}
	if MaxBatchBytes+frameMargin > MaxFrameBytes || frameBudget+frameMargin > MaxFrameBytes {
		t.Fatalf("a frame of this node's sender (batch %d, budget %d) exceeds MaxFrameBytes %d", MaxBatchBytes, frameBudget, MaxFrameBytes)
	}
}

// TestRestoredUnderSameNodeIDIsLoud: node a restarts on a copy of its
// store that lacks the last events it published (a backup restored under
// the same NODE_ID) while peer b holds them. a's next events would reuse
// sequence numbers b already holds, and b would ignore them: a reports b
// not ok with the reason and the fix, and logs it at WARN.
func TestRestoredUnderSameNodeIDIsLoud(t *testing.T) {
	aAddr, bAddr := freeAddr(t), freeAddr(t)
	published := []revocation.Event{event("a", 1), event("a", 2), event("a", 3)}
	bStore := newMemStore()
	bStore.insert(published)
	backup := newMemStore()
	backup.insert(published[:1]) // the backup was taken after a's first event
	startTestNode(t, "b", bAddr, map[string]string{"a": aAddr}, bStore)
	a := startTestNode(t, "a", aAddr, map[string]string{"b": bAddr}, backup)
	eventually(t, 10*time.Second, "b reported not ok on a", func() bool {
		st := a.node.Status()
		return len(st) == 1 && strings.Contains(st[0].Problem, problemOwnLogBehind) && strings.Contains(st[0].Detail(), "(2 events): restore under a new NODE_ID")
	})
	if !a.warned("a peer holds events of this node that its log lacks") {
		t.Error("no WARN logged")
	}
}
