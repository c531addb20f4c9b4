package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	gotoken "go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/transport/wire"
)

// jsonName is a struct field's JSON member name.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// wireKind maps the server's presence-tracking field types to the plain
// type the wire carries.
func wireKind(t reflect.Type) reflect.Kind {
	switch t {
	case reflect.TypeFor[optString]():
		return reflect.String
	case reflect.TypeFor[optInt]():
		return reflect.Int64
	case reflect.TypeFor[optBool]():
		return reflect.Bool
	}
	switch t.Kind() {
	case reflect.Int:
		return reflect.Int64
	case reflect.Slice:
		return reflect.Slice
	}
	return t.Kind()
}

// TestRequestMirrorsMatchWire: the server decodes each request into a
// presence-tracking mirror of its wire type (to tell a missing field, null
// and "" apart); the mirror must have the wire type's members, in order,
// with the same kinds, so that the client's requests and the server's
// decoding cannot drift.
func TestRequestMirrorsMatchWire(t *testing.T) {
	tests := []struct {
		server, wire any
	}{
		{issueRequest{}, wire.IssueRequest{}},
		{validateRequest{}, wire.ValidateRequest{}},
		{batchRequest{}, wire.BatchValidateRequest{}},
		{revokeRequest{}, wire.RevokeRequest{}},
		{refreshCreateRequest{}, wire.RefreshCreateRequest{}},
		{refreshRequest{}, wire.RefreshRequest{}},
	}
	for _, tc := range tests {
		st, wt := reflect.TypeOf(tc.server), reflect.TypeOf(tc.wire)
		t.Run(wt.Name(), func(t *testing.T) {
			var got, want []string
			for i := range st.NumField() {
				f := st.Field(i)
				got = append(got, jsonName(f)+":"+wireKind(f.Type).String())
			}
			for i := range wt.NumField() {
				f := wt.Field(i)
				want = append(want, jsonName(f)+":"+wireKind(f.Type).String())
			}
			if !slices.Equal(got, want) {
				t.Errorf("server %s members %v, wire %s members %v", st.Name(), got, wt.Name(), want)
			}
		})
	}
}

// TestNoCopiesOfWireTypes: the handlers write the wire types themselves;
// no struct declared in this package has the same fields (names, source
// types and JSON tags) as a type of transport/wire, so a response cannot
// drift from what the client decodes. (The request mirrors differ by their
// presence-tracking field types; TestRequestMirrorsMatchWire checks them.)
func TestNoCopiesOfWireTypes(t *testing.T) {
	wireStructs := structShapes(t, "../wire")
	for name, shape := range structShapes(t, ".") {
		for wname, wshape := range wireStructs {
			if shape == wshape {
				t.Errorf("httpapi declares %s, a copy of wire.%s: use the wire type", name, wname)
			}
		}
	}
}

// structShapes parses the non-test Go files of dir and returns each
// declared struct type with two or more fields by name, with its fields
// (name, source type, tag) as one string.
func structShapes(t *testing.T, dir string) map[string]string {
	t.Helper()
	fset := gotoken.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string]string{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok || st.Fields.NumFields() < 2 {
				return true
			}
			var b strings.Builder
			for _, fld := range st.Fields.List {
				var typ bytes.Buffer
				if err := printer.Fprint(&typ, fset, fld.Type); err != nil {
					t.Fatal(err)
				}
				tag := ""
				if fld.Tag != nil {
					tag = fld.Tag.Value
				}
				for _, id := range fld.Names {
					fmt.Fprintf(&b, "%s %s %s;", id.Name, typ.String(), tag)
				}
			}
			shapes[ts.Name.Name] = b.String()
			return true
		})
	}
	return shapes
}

// verdictMessages is every message check() can put in a verdict: a closed
// set.
func verdictMessages() []string {
	ms := []string{msgValid, msgValidNoCheck, msgRevoked, msgRefreshToken, token.MessageInvalid}
	for _, e := range []error{token.ErrMalformed, token.ErrAlgorithm, token.ErrUnknownKey, token.ErrSignature,
		token.ErrKeyRevoked, token.ErrExpired, token.ErrNotYetValid, token.ErrIssuer, token.ErrTooLarge, token.ErrReservedClaim} {
		ms = append(ms, token.Message(e))
	}
	return ms
}

// TestVerdictMessagesArePlain: appendVerdict writes messages without an
// escaper, which is right only while every message needs no escaping.
func TestVerdictMessagesArePlain(t *testing.T) {
	for _, m := range verdictMessages() {
		if !plainJSON(m) {
			t.Errorf("verdict message %q needs JSON escaping", m)
		}
		b, _ := json.Marshal(m)
		if got := appendVerdict(nil, verdict{message: m}); !bytes.Contains(got, b) {
			t.Errorf("appendVerdict wrote %s, want the message %s", got, b)
		}
	}
	// A message outside the set is still written as valid JSON.
	odd := "a\"b\\c\n\x01é"
	var v wire.Validation
	if err := json.Unmarshal(appendVerdict(nil, verdict{message: odd}), &v); err != nil || v.Message != odd {
		t.Errorf("message %q: %v %q", odd, err, v.Message)
	}
}

// TestVerdictDecodesAsWireValidation: the allocation-free verdict encoder
// writes exactly the members of wire.Validation, single and in a batch.
func TestVerdictDecodesAsWireValidation(t *testing.T) {
	strict := func(b []byte, v any) error {
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		return d.Decode(v)
	}
	vs := []verdict{
		{valid: true, message: msgValid, claims: []byte(`{"sub":"a","exp":1}`)},
		{revoked: true, message: msgRevoked, claims: []byte(`{"sub":"b"}`)},
		{err: token.ErrSignature, message: token.Message(token.ErrSignature)},
	}
	var want []string
	for i := range reflect.TypeFor[wire.Validation]().NumField() {
		want = append(want, jsonName(reflect.TypeFor[wire.Validation]().Field(i)))
	}
	slices.Sort(want)
	batch := []byte(`{"results":[`)
	for i, v := range vs {
		b := appendVerdict(nil, v)
		var got wire.Validation
		if err := strict(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if got.Valid != v.valid || got.Revoked != v.revoked || got.Message != v.message || (got.Claims == nil) != (v.claims == nil) {
			t.Errorf("%s decoded as %+v", b, got)
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(b, &members); err != nil {
			t.Fatal(err)
		}
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range members {
				if !yield(k) {
					return
				}
			}
		})
		if !slices.Equal(keys, want) {
			t.Errorf("%s has members %v, wire.Validation %v", b, keys, want)
		}
		if i > 0 {
			batch = append(batch, ',')
		}
		batch = append(batch, b...)
	}
	batch = append(batch, "]}"...)
	var bv wire.BatchValidation
	if err := strict(batch, &bv); err != nil || len(bv.Results) != len(vs) {
		t.Fatalf("batch %s: %v (%d results)", batch, err, len(bv.Results))
	}
}
