package kafka

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func validJSON(t testing.TB) []byte {
	e := testEvent(1, 0)
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withField returns the valid event JSON with one field replaced (raw JSON)
// or, if raw is "", removed.
func withField(t testing.TB, name, raw string) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(validJSON(t), &m); err != nil {
		t.Fatal(err)
	}
	if raw == "" {
		delete(m, name)
	} else {
		m[name] = json.RawMessage(raw)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeEventValid(t *testing.T) {
	want := testEvent(1, 0)
	got, err := DecodeEvent(validJSON(t))
	if err != nil {
		t.Fatalf("DecodeEvent: %v", err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("got %+v, want %+v", *got, want)
	}
	// Unknown fields are ignored; reason is optional.
	for _, b := range [][]byte{withField(t, "future_field", `{"x":[1,2]}`), withField(t, "reason", "")} {
		if _, err := DecodeEvent(b); err != nil {
			t.Errorf("DecodeEvent(%s): %v", b, err)
		}
	}
}

func TestDecodeEventRejects(t *testing.T) {
	cases := map[string][]byte{
		"empty":           nil,
		"garbage":         []byte("\x00\xffnot json"),
		"array":           []byte(`[1,2]`),
		"null":            []byte(`null`),
		"trailing":        append(validJSON(t), []byte(` {}`)...),
		"oversize":        withField(t, "pad", `"`+strings.Repeat("x", MaxEventBytes)+`"`),
		"ts string":       withField(t, "ts", `"1700000000000"`),
		"ts float":        withField(t, "ts", `1.5`),
		"seq negative":    withField(t, "seq", `-1`),
		"seq zero":        withField(t, "seq", `0`),
		"sig not base64":  withField(t, "sig", `"%%%"`),
		"sig empty":       withField(t, "sig", `""`),
		"sig null":        withField(t, "sig", `null`),
		"value number":    withField(t, "value", `42`),
		"unknown type":    withField(t, "type", `"revoke_all"`),
		"empty value":     withField(t, "value", `""`),
		"value too long":  withField(t, "value", `"`+strings.Repeat("v", 1025)+`"`),
		"expires_at zero": withField(t, "expires_at", `0`),
	}
	for _, f := range []string{"event_id", "type", "value", "ts", "expires_at", "origin", "seq", "key_id", "alg", "sig"} {
		cases["missing "+f] = withField(t, f, "")
	}
	for name, b := range cases {
		if e, err := DecodeEvent(b); err == nil {
			t.Errorf("%s: DecodeEvent accepted %+v", name, e)
		} else if !strings.HasPrefix(err.Error(), "kafka: decode event") {
			t.Errorf("%s: error %q lacks context", name, err)
		}
	}
}

// FuzzDecodeEvent checks that DecodeEvent never panics and that whatever it
// accepts is valid and survives a re-encode unchanged.
func FuzzDecodeEvent(f *testing.F) {
	f.Add(validJSON(f))
	f.Add(withField(f, "reason", ""))
	f.Add(withField(f, "ts", `"x"`))
	f.Add([]byte(`{"event_id":"a","type":"revoke_sub","value":"\ud800","ts":1,"expires_at":1,"origin":"o","seq":1,"key_id":"k","alg":"a","sig":"AA=="}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEvent(b)
		if err != nil {
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("accepted invalid event: %v", err)
		}
		again, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) > MaxEventBytes {
			return // escaping ('<' -> \u003c) may grow an accepted event past the limit
		}
		e2, err := DecodeEvent(again)
		if err != nil {
			t.Fatalf("re-encoded event rejected: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("round trip changed event:\n%+v\n%+v", e, e2)
		}
	})
}
