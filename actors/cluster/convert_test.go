package cluster

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/remote"
)

func TestWireRoundTrip(t *testing.T) {
	full := event("node-a", 42)
	full.Reason, full.Type = "compromised", revocation.TypeSub
	tests := []struct {
		name   string
		events []revocation.Event
	}{
		{"one full event", []revocation.Event{full}},
		{"several", []revocation.Event{event("a", 1), event("b", 7), event("c", 1<<40)}},
		{"zero values", []revocation.Event{{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &remote.EventBatch{NodeId: "node-a", Events: ToProto(tc.events), Resend: true, More: true}
			vt, err := in.MarshalVT()
			if err != nil {
				t.Fatal(err)
			}
			std, err := proto.Marshal(in) // what hollywood v1.0.5 sends
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range [][]byte{vt, std} {
				var out remote.EventBatch
				if err := out.UnmarshalVT(b); err != nil {
					t.Fatal(err)
				}
				got := FromProto(out.GetEvents())
				for i := range got {
					if len(got[i].Sig) == 0 {
						got[i].Sig = tc.events[i].Sig // nil and empty both decode as empty
					}
				}
				if !reflect.DeepEqual(got, tc.events) || out.NodeId != "node-a" || !out.Resend || !out.More {
					t.Fatalf("round trip:\n got %+v\nwant %+v", got, tc.events)
				}
			}
		})
	}
}

func TestFromProtoSkipsNil(t *testing.T) {
	got := FromProto([]*remote.Event{nil, {EventId: "x"}, nil})
	if len(got) != 1 || got[0].EventID != "x" {
		t.Fatalf("FromProto = %+v", got)
	}
}

func TestHelloUnmarshalGarbage(t *testing.T) {
	for _, b := range [][]byte{{0xff}, {0x12, 0x05, 0x0a}, []byte("not protobuf at all")} {
		var h remote.Hello
		_ = h.UnmarshalVT(b) // must not panic
		var e remote.EventBatch
		_ = e.UnmarshalVT(b)
	}
}
