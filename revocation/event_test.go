package revocation

import (
	"bytes"
	"errors"
	"testing"
)

func TestCanonicalDistinguishesFields(t *testing.T) {
	base := Event{EventID: "e", Type: TypeJTI, Value: "ab", TS: 1, ExpiresAt: 2, Reason: "r", Origin: "o", Seq: 3, KeyID: "k", Alg: SigAlg}
	moved := base
	moved.Value, moved.Reason = "a", "br" // same concatenation, different split
	if bytes.Equal(base.Canonical(), moved.Canonical()) {
		t.Fatal("length prefixes must keep field boundaries distinct")
	}
	signed := base
	signed.Sig = []byte("sig")
	if !bytes.Equal(base.Canonical(), signed.Canonical()) {
		t.Fatal("Sig must not be covered by the canonical encoding")
	}
}

func TestValidate(t *testing.T) {
	long := string(make([]byte, MaxValueLen+1))
	tests := []struct {
		name string
		ev   Event
		want error
	}{
		{"ok", Event{Type: TypeSub, Value: "u"}, nil},
		{"unknown type", Event{Type: "revoke_all", Value: "u"}, ErrUnknownType},
		{"empty value", Event{Type: TypeKid}, ErrEmptyValue},
		{"long value", Event{Type: TypeJTI, Value: long}, ErrTooLong},
		{"state ok", Event{Type: TypeKeyState, Value: "k", Data: []byte("{}")}, nil},
		{"refresh state ok", Event{Type: TypeRefreshState, Value: "j", Data: []byte("{}")}, nil},
		{"state without data", Event{Type: TypeRefreshState, Value: "j"}, ErrUnexpectedData},
		{"revocation with data", Event{Type: TypeJTI, Value: "j", Data: []byte("x")}, ErrUnexpectedData},
		{"long data", Event{Type: TypeKeyState, Value: "k", Data: make([]byte, MaxDataLen+1)}, ErrTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.ev.Validate(); !errors.Is(err, tc.want) {
				t.Fatalf("Validate() = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCanonicalCoversData(t *testing.T) {
	base := Event{EventID: "e", Type: TypeKeyState, Value: "k", TS: 1, ExpiresAt: 2, Origin: "o", Seq: 3, KeyID: "k", Alg: SigAlg, Data: []byte("a")}
	other := base
	other.Data = []byte("b")
	if bytes.Equal(base.Canonical(), other.Canonical()) {
		t.Fatal("Data must be covered by the canonical encoding")
	}
	noData := base
	noData.Data = nil
	if bytes.HasPrefix(base.Canonical(), noData.Canonical()[:16]) {
		t.Fatal("an event with Data must use its own domain separator")
	}
}

// TestStateTypesAreNotRevocations keeps POST /revoke's accepted set to the
// seed's three types.
func TestStateTypesAreNotRevocations(t *testing.T) {
	for _, typ := range []Type{TypeKeyState, TypeRefreshState} {
		if typ.Valid() || !typ.IsState() || !typ.Known() {
			t.Fatalf("%s: Valid=%v IsState=%v Known=%v", typ, typ.Valid(), typ.IsState(), typ.Known())
		}
	}
	for _, typ := range []Type{TypeJTI, TypeSub, TypeKid} {
		if !typ.Valid() || typ.IsState() || !typ.Known() {
			t.Fatalf("%s: Valid=%v IsState=%v Known=%v", typ, typ.Valid(), typ.IsState(), typ.Known())
		}
	}
}

func TestSubCutoffIsSeconds(t *testing.T) {
	e := Event{TS: 1_700_000_000_999}
	if got := e.SubCutoff(); got != 1_700_000_000 {
		t.Fatalf("SubCutoff = %d", got)
	}
}
