package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestSkipAgreesWithEncodingJSON: a document is accepted exactly when
// encoding/json calls it valid and it is UTF-8 (RFC 8259 requires it;
// json.Valid does not check), and nesting beyond maxDepth is refused.
func TestSkipAgreesWithEncodingJSON(t *testing.T) {
	docs := []string{
		`{}`, `[]`, `"a"`, `1`, `-0.5e+3`, `true`, `false`, `null`, ` {"a" : [1, "x\u00e9\n", {"b": null}]} `,
		`{"a":1,}`, `[1,]`, `01`, `1.`, `.5`, `+1`, `"\x"`, `"\u12"`, "\"a\x01\"", "\"\xff\"", `tru`, `{"a"}`, `[1 2]`, `{} x`, ``,
		`"é😀"`, `"\ud800"`, `{"a":{"b":{"c":[[[]]]}}}`,
	}
	for _, d := range docs {
		s := Scanner{D: []byte(d)}
		s.WS()
		got := s.Skip(len(d)+1) && s.End()
		if want := json.Valid([]byte(d)) && utf8.ValidString(d); got != want {
			t.Errorf("%q: accepted %v, encoding/json valid %v", d, got, want)
		}
	}
	deep := strings.Repeat("[", 33) + strings.Repeat("]", 33)
	if s := (Scanner{D: []byte(deep)}); !s.Skip(32) {
		t.Error("33 levels refused with maxDepth 32")
	}
	if s := (Scanner{D: []byte("[" + deep + "]")}); s.Skip(32) {
		t.Error("34 levels accepted with maxDepth 32")
	}
}

func TestStr(t *testing.T) {
	tests := []struct {
		doc      string
		raw      string
		esc, ok  bool
		consumed int
	}{
		{`"abc"x`, "abc", false, true, 5},
		{`"a\"b"`, `a\"b`, true, true, 6},
		{`"\u00e9"`, `\u00e9`, true, true, 8},
		{`"é"`, "é", false, true, 4},
		{`"a`, "", false, false, 0},
		{"\"a\x00\"", "", false, false, 0},
		{"\"\xc3\"", "", false, false, 0},
		{`abc`, "", false, false, 0},
	}
	for _, tc := range tests {
		s := Scanner{D: []byte(tc.doc)}
		raw, esc, ok := s.Str()
		if string(raw) != tc.raw || esc != tc.esc || ok != tc.ok || (ok && s.I != tc.consumed) {
			t.Errorf("%q: Str = %q %v %v at %d", tc.doc, raw, esc, ok, s.I)
		}
	}
	if Hex4([]byte("00e9")) != 'é' {
		t.Error("Hex4")
	}
}

func TestNoAllocations(t *testing.T) {
	doc := []byte(`{"token":"a.b.c","n":[1,2.5e3,true,null],"s":"x\u0041"}`)
	if n := testing.AllocsPerRun(100, func() {
		s := Scanner{D: doc}
		s.Skip(32)
	}); n != 0 {
		t.Errorf("Skip allocates %v times", n)
	}
}

func FuzzSkip(f *testing.F) {
	for _, s := range []string{`{"a":[1,"b",{"c":null}]}`, `"\ud83d\ude00"`, `-1.5E-3`, `[`, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := Scanner{D: b}
		s.WS()
		got := s.Skip(len(b)+1) && s.End()
		if want := json.Valid(b) && utf8.Valid(b); got != want {
			t.Fatalf("%q: accepted %v, encoding/json valid %v", b, got, want)
		}
	})
}

func TestPlainStr(t *testing.T) {
	for doc, want := range map[string]string{`"a.b-c_9"x`: "a.b-c_9", `""`: ""} {
		s := Scanner{D: []byte(doc)}
		if raw, ok := s.PlainStr(); !ok || string(raw) != want || s.I != len(want)+2 {
			t.Errorf("%q: PlainStr = %q %v at %d", doc, raw, ok, s.I)
		}
	}
	for _, doc := range []string{`"a\"b"`, `"é"`, "\"a\tb\"", `"abc`, `abc`, ``} {
		s := Scanner{D: []byte(doc)}
		if raw, ok := s.PlainStr(); ok || s.I != 0 {
			t.Errorf("%q: PlainStr = %q %v, consumed %d; want refused, nothing consumed", doc, raw, ok, s.I)
		}
	}
}
