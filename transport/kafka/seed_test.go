package kafka

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeSeedRecord(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name    string
		value   string
		wantErr bool
		wantID  string
		wantExp time.Time
	}{
		{name: "minimal", value: `{"type":"revoke_jti","value":"j1"}`},
		{name: "seed event", value: `{"event_id":"e-1","type":"revoke_sub","value":"u","ts":1700000000,"reason":"logout","ttl_seconds":60}`,
			wantID: "seed:e-1", wantExp: now.Add(time.Minute)},
		{name: "ts in ms and ISO expires_at", value: `{"type":"revoke_kid","value":"k","ts":1700000000000,"expires_at":"2023-11-14T22:14:20Z"}`,
			wantExp: time.Date(2023, 11, 14, 22, 14, 20, 0, time.UTC)},
		{name: "ttl from now without ts", value: `{"type":"revoke_jti","value":"j","ttl_seconds":10}`, wantExp: now.Add(10 * time.Second)},
		{name: "state event", value: `{"type":"key_state","value":"k"}`, wantErr: true},
		{name: "unknown type", value: `{"type":"revoke_all","value":"k"}`, wantErr: true},
		{name: "no value", value: `{"type":"revoke_jti"}`, wantErr: true},
		{name: "revocd record", value: `{"type":"revoke_jti","value":"j","sig":"AA=="}`, wantErr: true},
		{name: "revocd format 2", value: `{"type":"revoke_jti","value":"j","format":2}`, wantErr: true},
		{name: "bad ts", value: `{"type":"revoke_jti","value":"j","ts":"yesterday"}`, wantErr: true},
		{name: "negative ttl", value: `{"type":"revoke_jti","value":"j","ttl_seconds":-1}`, wantErr: true},
		{name: "event_id too long", value: `{"event_id":"` + strings.Repeat("e", 60) + `","type":"revoke_jti","value":"j"}`, wantErr: true},
		{name: "not an object", value: `["revoke_jti"]`, wantErr: true},
		{name: "trailing data", value: `{"type":"revoke_jti","value":"j"} {}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := DecodeSeedRecord([]byte(tc.value), now)
			if tc.wantErr {
				if !errors.Is(err, ErrNotSeedRecord) {
					t.Fatalf("err %v, want ErrNotSeedRecord", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantID != "" && e.ID != tc.wantID {
				t.Errorf("ID %q, want %q", e.ID, tc.wantID)
			}
			if e.ID == "" {
				t.Error("empty ID")
			}
			if !e.ExpiresAt.Equal(tc.wantExp) {
				t.Errorf("ExpiresAt %v, want %v", e.ExpiresAt, tc.wantExp)
			}
		})
	}
}

func FuzzDecodeSeedRecord(f *testing.F) {
	f.Add([]byte(`{"event_id":"e","type":"revoke_sub","value":"u","ts":"2024-01-01T00:00:00Z","ttl_seconds":5}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeSeedRecord(b, time.Unix(1_700_000_000, 0))
		if err == nil && (e.Value == "" || !e.Type.Valid() || e.ID == "") {
			t.Fatalf("accepted %q as %+v", b, e)
		}
	})
}
