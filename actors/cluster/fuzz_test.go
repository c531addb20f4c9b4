package cluster

import (
	"testing"

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
