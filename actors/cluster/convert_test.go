package cluster

import (
	"errors"
	"io"
	"maps"
	"math"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/remote"
)

// fullEvent is an event with every field set to a value other than its
// zero value (TestWireRoundTrip checks that it stays so).
func fullEvent() revocation.Event {
	e := event("node-a", 42)
	e.Type, e.Reason = revocation.TypeKeyState, "compromised"
	e.Data = []byte(`{"v":1,"kid":"k"}`)
	return e
}

// batchFields are an EventBatch's own fields.
type batchFields struct {
	nodeID       string
	resend, more bool
}

// TestWireRoundTrip: events survive event → wire message → bytes (as
// vtproto and as hollywood's proto.Marshal write them) → vtproto decode →
// event with every field equal, edge values included, and the batch's own
// fields too.
func TestWireRoundTrip(t *testing.T) {
	full := fullEvent()
	v := reflect.ValueOf(full)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("fullEvent leaves %s zero: the round trip would not cover it", v.Type().Field(i).Name)
		}
	}
	edges := full
	edges.Seq, edges.TS, edges.ExpiresAt = math.MaxUint64, math.MinInt64, math.MaxInt64
	edges.Value, edges.Reason = "ünïcødé ✓ \x00 nul", strings.Repeat("r", revocation.MaxReasonLen)
	edges.Sig = []byte{0, 0xff, 0}
	negative := full
	negative.TS, negative.ExpiresAt = -1, -1
	tests := []struct {
		name   string
		events []revocation.Event
		batch  batchFields
	}{
		{"one full event", []revocation.Event{full}, batchFields{"node-a", true, true}},
		{"several, flags off", []revocation.Event{event("a", 1), event("b", 7), event("c", 1<<40)}, batchFields{nodeID: "b"}},
		{"edge values", []revocation.Event{edges, negative}, batchFields{nodeID: strings.Repeat("n", maxOriginLen)}},
		{"largest event", []revocation.Event{largestEvent("a", 1)}, batchFields{nodeID: "a", more: true}},
		{"zero values", []revocation.Event{{}}, batchFields{}},
		{"no events (a More marker)", nil, batchFields{"a", true, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &remote.EventBatch{NodeId: tc.batch.nodeID, Events: ToProto(tc.events), Resend: tc.batch.resend, More: tc.batch.more}
			vt, err := in.MarshalVT()
			if err != nil {
				t.Fatal(err)
			}
			std, err := proto.Marshal(in) // what hollywood v1.0.5 sends
			if err != nil {
				t.Fatal(err)
			}
			for enc, b := range map[string][]byte{"vtproto": vt, "proto": std} {
				var out remote.EventBatch
				if err := out.UnmarshalVT(b); err != nil {
					t.Fatalf("%s: %v", enc, err)
				}
				if out.NodeId != tc.batch.nodeID || out.Resend != tc.batch.resend || out.More != tc.batch.more {
					t.Errorf("%s: batch fields = %q %v %v, want %q %v %v", enc, out.NodeId, out.Resend, out.More, tc.batch.nodeID, tc.batch.resend, tc.batch.more)
				}
				got := FromProto(out.GetEvents())
				if len(got) != len(tc.events) {
					t.Fatalf("%s: %d events, want %d", enc, len(got), len(tc.events))
				}
				// sameEvent compares every field (TestSameEventComparesEveryField);
				// a nil and an empty Sig both decode as empty.
				for i := range got {
					if !sameEvent(&got[i], &tc.events[i]) {
						t.Errorf("%s: event %d:\n got %+v\nwant %+v", enc, i, got[i], tc.events[i])
					}
				}
			}
		})
	}
}

// TestHelloRoundTrip: a Hello's digest and flags survive the wire.
func TestHelloRoundTrip(t *testing.T) {
	tests := []*remote.Hello{
		{NodeId: "a", Have: map[string]uint64{"a": 1, "b": math.MaxUint64, "": 7}, Reply: true},
		{NodeId: "b"},
	}
	for _, h := range tests {
		b, err := proto.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var out remote.Hello
		if err := out.UnmarshalVT(b); err != nil {
			t.Fatal(err)
		}
		if out.NodeId != h.NodeId || out.Reply != h.Reply || !maps.Equal(out.GetHave(), h.GetHave()) {
			t.Errorf("Hello round trip: got %v, want %v", &out, h)
		}
	}
}

func TestFromProtoSkipsNil(t *testing.T) {
	got := FromProto([]*remote.Event{nil, {EventId: "x"}, nil})
	if len(got) != 1 || got[0].EventID != "x" {
		t.Fatalf("FromProto = %+v", got)
	}
}

// TestUnmarshalRefusesMalformed: bytes that are no valid encoding are
// refused with an error by the decoders the receiver uses (and by the
// standard decoder, so both sides agree), never decoded into a message.
func TestUnmarshalRefusesMalformed(t *testing.T) {
	batch, _ := (&remote.EventBatch{NodeId: "a", Events: ToProto([]revocation.Event{fullEvent()})}).MarshalVT()
	hello, _ := (&remote.Hello{NodeId: "a", Have: map[string]uint64{"a": 3}}).MarshalVT()
	tests := []struct {
		name      string
		batch     []byte // input for EventBatch; nil: not run
		hello     []byte // input for Hello; nil: not run
		wantBatch error  // nil: any error
	}{
		{"lone 0xff (bad tag)", []byte{0xff}, []byte{0xff}, nil},
		{"length beyond the input", []byte{0x12, 0x05, 0x0a}, []byte{0x12, 0x05, 0x0a}, io.ErrUnexpectedEOF},
		{"varint never ends", []byte{0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, []byte{0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, remote.ErrIntOverflow},
		{"negative length", []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, remote.ErrInvalidLength},
		{"text", []byte("not protobuf at all"), []byte("not protobuf at all"), nil},
		{"truncated batch", batch[:len(batch)-3], nil, io.ErrUnexpectedEOF},
		{"truncated hello", nil, hello[:len(hello)-1], nil},
		{"field 0", []byte{0x00, 0x01}, []byte{0x00, 0x01}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.batch != nil {
				var b remote.EventBatch
				err := b.UnmarshalVT(tc.batch)
				if err == nil || (tc.wantBatch != nil && !errors.Is(err, tc.wantBatch)) {
					t.Errorf("EventBatch.UnmarshalVT = %v, want %v", err, tc.wantBatch)
				}
				if proto.Unmarshal(tc.batch, &remote.EventBatch{}) == nil {
					t.Error("proto.Unmarshal accepted what UnmarshalVT refused")
				}
			}
			if tc.hello != nil {
				var h remote.Hello
				if err := h.UnmarshalVT(tc.hello); err == nil {
					t.Error("Hello.UnmarshalVT accepted it")
				}
				if proto.Unmarshal(tc.hello, &remote.Hello{}) == nil {
					t.Error("proto.Unmarshal accepted what UnmarshalVT refused")
				}
			}
		})
	}
}
