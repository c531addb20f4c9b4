package revocation

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/canonical.json from the current encoding")

// goldenEvents are the events whose canonical bytes are pinned in
// testdata/canonical.json: every node signs and verifies these bytes, so a
// change to the encoding must be deliberate (a new domain separator), never
// an accident.
var goldenEvents = []struct {
	Name  string `json:"name"`
	Event Event  `json:"event"`
	Hex   string `json:"canonical_hex"`
}{
	{Name: "jti", Event: Event{EventID: "0190d1a2-7b3c-7d4e-8f90-a1b2c3d4e5f6", Type: TypeJTI,
		Value: "550e8400-e29b-41d4-a716-446655440000", TS: 1_764_000_000_123, ExpiresAt: 1_764_001_800_000,
		Reason: "api", Origin: "node-a", Seq: 1, KeyID: "p4-dilithium-key-1", Alg: SigAlg}},
	{Name: "sub", Event: Event{EventID: "0190d1a2-7b3c-7d4e-8f90-a1b2c3d4e5f7", Type: TypeSub,
		Value: "user123", TS: 1_764_000_001_000, ExpiresAt: 1_771_776_001_000,
		Reason: "log out everywhere", Origin: "node-b", Seq: 42, KeyID: "p4-dilithium-key-1", Alg: SigAlg}},
	{Name: "kid with unicode and empty reason", Event: Event{EventID: "e", Type: TypeKid,
		Value: "hs-ключ-1", TS: 0, ExpiresAt: 1, Origin: "n", Seq: 1 << 40, KeyID: "k", Alg: SigAlg}},
	{Name: "signature not covered", Event: Event{EventID: "s", Type: TypeJTI, Value: "v", TS: 1, ExpiresAt: 2,
		Reason: "r", Origin: "o", Seq: 3, KeyID: "k", Alg: SigAlg, Sig: []byte{1, 2, 3}}},
}

func TestCanonicalGolden(t *testing.T) {
	path := filepath.Join("testdata", "canonical.json")
	if *update {
		for i := range goldenEvents {
			goldenEvents[i].Hex = hex.EncodeToString(goldenEvents[i].Event.Canonical())
		}
		b, err := json.MarshalIndent(goldenEvents, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden vectors (regenerate deliberately with -update): %v", err)
	}
	var want []struct {
		Name  string `json:"name"`
		Event Event  `json:"event"`
		Hex   string `json:"canonical_hex"`
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(goldenEvents) {
		t.Fatalf("%s has %d vectors, the table %d: regenerate with -update", path, len(want), len(goldenEvents))
	}
	for i, w := range want {
		t.Run(w.Name, func(t *testing.T) {
			if !reflect.DeepEqual(w.Event, goldenEvents[i].Event) {
				t.Fatalf("%s vector %d differs from the table: regenerate with -update", path, i)
			}
			if got := hex.EncodeToString(w.Event.Canonical()); got != w.Hex {
				t.Fatalf("canonical encoding changed: every node signs these bytes, so old signatures no longer verify\n got %s\nwant %s", got, w.Hex)
			}
		})
	}
}
