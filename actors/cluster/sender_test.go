package cluster

import (
	"testing"
	"time"

	"github.com/revocd/revocd/transport/remote"
)

// TestSenderQueueBounded: a peer's sender queues at most outQueue
// messages while it cannot send; more are refused at once (dropped), so
// Broadcast and the actors never block on a slow or absent peer.
func TestSenderQueueBounded(t *testing.T) {
	s := newSender(newPeer(Peer{ID: "b", Addr: freeAddr(t)}), PIDFor("127.0.0.1:1"), nil, nil, quietLogger())
	msg := outMsg{hello: &remote.Hello{NodeId: "a"}}
	for i := range outQueue {
		if !s.send(msg) {
			t.Fatalf("message %d refused below the bound", i)
		}
	}
	done := make(chan bool)
	go func() { done <- s.send(msg) }()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("a message beyond the bound was queued")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("send blocked on a full queue")
	}
}

// TestSenderFrames: the sender packs queued messages into frames of at
// most frameBudget bytes, in order; a larger message goes alone.
func TestSenderFrames(t *testing.T) {
	s := newSender(newPeer(Peer{ID: "b", Addr: freeAddr(t)}), PIDFor("127.0.0.1:1"), nil, nil, quietLogger())
	big := &remote.EventBatch{NodeId: "a", Events: ToProto(eventsOf(MaxBatchEvents, 1, largestEvent))}
	small := &remote.Hello{NodeId: "a"}
	if big.SizeVT() <= frameBudget {
		t.Fatalf("test batch of %d bytes is not beyond frameBudget", big.SizeVT())
	}
	in := []outMsg{{hello: small}, {batch: big}, {hello: small}, {hello: small}, {batch: big}}
	for _, m := range in[1:] {
		s.send(m)
	}
	var err error
	if s.carry, err = encode(in[0]); err != nil {
		t.Fatal(err)
	}
	var got [][]int32 // per frame, the type index of each message
	for s.carry != nil {
		env := s.frame()
		size, types := 0, []int32{}
		for _, m := range env.Messages {
			size += len(m.Data)
			types = append(types, m.TypeNameIndex)
		}
		if size > frameBudget && len(env.Messages) > 1 {
			t.Fatalf("frame of %d bytes in %d messages", size, len(env.Messages))
		}
		if env.Targets[0].ID != PIDFor("x").ID || env.TypeNames[types[0]] == "" {
			t.Fatalf("frame addressed to %v", env.Targets)
		}
		got = append(got, types)
	}
	// hello; big batch alone; two hellos; big batch alone.
	want := [][]int32{{1}, {0}, {1, 1}, {0}}
	if len(got) != len(want) {
		t.Fatalf("frames = %v, want %v", got, want)
	}
	for i := range want {
		if len(got[i]) != len(want[i]) || got[i][0] != want[i][0] {
			t.Fatalf("frames = %v, want %v", got, want)
		}
	}
}
