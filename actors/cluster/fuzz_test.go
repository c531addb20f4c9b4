package cluster

import (
	"testing"

	"github.com/anthdm/hollywood/actor"
	hremote "github.com/anthdm/hollywood/remote"

	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/remote"
)

// FuzzDecodeRemote feeds arbitrary bytes from a (possibly rogue) peer
// through the remote message decoders and the conversion to events: no
// input may panic, and every decoded event either validates or is refused
// by Validate before it could reach the index.
func FuzzDecodeRemote(f *testing.F) {
	seed := &remote.EventBatch{NodeId: "node-a", Events: ToProto([]revocation.Event{event("node-a", 1)})}
	b, _ := seed.MarshalVT()
	f.Add(b)
	h := &remote.Hello{NodeId: "node-b", Have: map[string]uint64{"node-a": 3}}
	hb, _ := h.MarshalVT()
	f.Add(hb)
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		var batch remote.EventBatch
		if err := batch.UnmarshalVT(data); err == nil {
			for _, e := range FromProto(batch.Events) {
				_ = e.Validate()
				_ = e.Canonical()
			}
		}
		var hello remote.Hello
		_ = hello.UnmarshalVT(data)
	})
}

// FuzzReceiverEnvelope feeds arbitrary envelopes (the frame payload a
// rogue controls) to the receiver: no input may panic (hollywood's own
// reader does on out-of-range indices), whatever it refuses or delivers.
func FuzzReceiverEnvelope(f *testing.F) {
	e, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		f.Fatal(err)
	}
	// A replicator stand-in that drops what it gets.
	self := e.Spawn(func() actor.Receiver { return sink{} }, Kind, actor.WithID(ID))
	r := &receiver{self: self, engine: e}
	hello, _ := (&remote.Hello{NodeId: "node-b", Have: map[string]uint64{"node-a": 3}}).MarshalVT()
	batch, _ := (&remote.EventBatch{NodeId: "node-a", Events: ToProto([]revocation.Event{event("node-a", 1)})}).MarshalVT()
	for _, env := range []*hremote.Envelope{
		{Targets: []*actor.PID{r.self}, TypeNames: []string{helloType, batchType},
			Messages: []*hremote.Message{{Data: hello}, {Data: batch, TypeNameIndex: 1}}},
		{Targets: []*actor.PID{r.self}, TypeNames: []string{helloType}, Messages: []*hremote.Message{{Data: hello, TypeNameIndex: 3, TargetIndex: 2}}},
	} {
		b, err := env.MarshalVT()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var env hremote.Envelope
		if env.UnmarshalVT(data) != nil {
			return
		}
		for _, m := range env.GetMessages() {
			r.deliver(&env, m, "fuzz", nil)
		}
	})
}

type sink struct{}

func (sink) Receive(*actor.Context) {}
