package kafka

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/revocd/revocd/revocation"
)

// State events cross Kafka in format 2 (Publisher.Deliver) and format 1
// (seed-era JSON) with Data intact, and their signatures (which cover Data)
// verify on the consumer.
func TestStateEventsOnTheWire(t *testing.T) {
	for _, format := range []int{1, 2} {
		t.Run(map[int]string{1: "format1", 2: "format2"}[format], func(t *testing.T) {
			_, cfg := newCluster(t, 2)
			s, v := newSigner(t)
			evs := signed(t, s, "node-a", 8, 3)
			ptrs := make([]*revocation.Event, len(evs))
			for i := range evs {
				if i%2 == 0 {
					evs[i].Type = revocation.TypeKeyState
					evs[i].Data = []byte(`{"v":1,"kid":"k"}` + string(rune('a'+i)))
				}
				evs[i].Sig = nil
				ptrs[i] = &evs[i]
			}
			if err := s.SignBatch(ptrs); err != nil {
				t.Fatal(err)
			}
			if format == 2 {
				if err := newPublisher(t, cfg).Deliver(t.Context(), evs); err != nil {
					t.Fatal(err)
				}
			} else {
				produceFormat1(t, cfg, evs)
			}
			rc := startConsumer(t, cfg, nil)
			byID := map[string]revocation.Event{}
			for _, e := range evs {
				byID[e.EventID] = e
			}
			for range evs {
				got := rc.next(t)
				want := byID[got.EventID]
				if got.Type != want.Type || !bytes.Equal(got.Data, want.Data) {
					t.Fatalf("event %q: %s with data %q, want %s with %q", got.EventID, got.Type, got.Data, want.Type, want.Data)
				}
				if err := v.Verify(got); err != nil {
					t.Fatalf("event %q: %v", got.EventID, err)
				}
			}
		})
	}
}

// DecodeEvent keeps its strictness for "data": present exactly for the
// state types, a JSON null counts as absent, wrong JSON types fail.
func TestDecodeEventData(t *testing.T) {
	withType := func(typ string, data string) []byte {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(validJSON(t), &m); err != nil {
			t.Fatal(err)
		}
		m["type"] = json.RawMessage(`"` + typ + `"`)
		if data != "" {
			m["data"] = json.RawMessage(data)
		}
		b, _ := json.Marshal(m)
		return b
	}
	cases := []struct {
		name    string
		in      []byte
		want    []byte
		wantErr error
	}{
		{"key_state with data", withType("key_state", `"AQID"`), []byte{1, 2, 3}, nil},
		{"refresh_state with data", withType("refresh_state", `"AQID"`), []byte{1, 2, 3}, nil},
		{"revocation without data", withType("revoke_jti", ""), nil, nil},
		{"revocation with null data", withType("revoke_jti", "null"), nil, nil},
		{"key_state without data", withType("key_state", ""), nil, revocation.ErrUnexpectedData},
		{"key_state with empty data", withType("key_state", `""`), nil, revocation.ErrUnexpectedData},
		{"revocation with data", withType("revoke_sub", `"AQID"`), nil, revocation.ErrUnexpectedData},
		{"data not base64", withType("key_state", `"!!"`), nil, errAny},
		{"data a number", withType("key_state", `5`), nil, errAny},
		{"unknown type", withType("key_gossip", `"AQID"`), nil, revocation.ErrUnknownType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := DecodeEvent(c.in)
			switch {
			case c.wantErr == nil && err != nil:
				t.Fatalf("DecodeEvent: %v", err)
			case c.wantErr == errAny && err == nil, c.wantErr != nil && c.wantErr != errAny && !errors.Is(err, c.wantErr):
				t.Fatalf("DecodeEvent = %v, want %v", err, c.wantErr)
			case c.wantErr == nil && !bytes.Equal(e.Data, c.want):
				t.Fatalf("data %v, want %v", e.Data, c.want)
			}
		})
	}
}

var errAny = errors.New("any error")
