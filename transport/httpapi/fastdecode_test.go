package httpapi

import (
	"encoding/json"
	"testing"
)

func TestDecodeValidateFastAgreesWithGeneralDecoder(t *testing.T) {
	tests := []struct {
		body   string
		fastOK bool
	}{
		{`{"token":"a.b.c","check_revocation":true}`, true},
		{` { "check_revocation" : false , "token" : "x.y.z" } `, true},
		{`{"token":"a.b.c"}`, true},
		{`{}`, true},
		{`{"token":"a\"b"}`, false},
		{`{"token":"a.b.c","extra":1}`, false},
		{`{"token":"a","token":"b"}`, false},
		{`{"token":5}`, false},
		{`{"token":"a"} x`, false},
		{`{"token":"a",}`, false},
		{`{"token":"é"}`, false},
		{`{"check_revocation":"yes","token":"a"}`, false},
		{`[]`, false},
		{``, false},
	}
	for _, tc := range tests {
		tok, check, has, ok := decodeValidateFast([]byte(tc.body))
		if ok != tc.fastOK {
			t.Errorf("%s: fast ok = %v, want %v", tc.body, ok, tc.fastOK)
			continue
		}
		if !ok {
			continue
		}
		var req validateRequest
		if err := json.Unmarshal([]byte(tc.body), &req); err != nil {
			t.Fatalf("%s: general decoder: %v", tc.body, err)
		}
		wantCheck := !req.CheckRevocation.Set || req.CheckRevocation.Value
		if has != req.Token.Set || string(tok) != req.Token.Value || check != wantCheck {
			t.Errorf("%s: fast = (%q,%v,%v), general = (%q,%v,%v)", tc.body, tok, check, has, req.Token.Value, wantCheck, req.Token.Set)
		}
	}
}

func FuzzDecodeValidateFast(f *testing.F) {
	for _, s := range []string{`{"token":"a.b.c","check_revocation":true}`, `{"token":"a"}`, `{}`, `{"token":"\u0041"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, check, has, ok := decodeValidateFast(body)
		if !ok {
			return
		}
		// Whatever the fast path accepts, the general decoder accepts
		// with the same meaning.
		var req validateRequest
		if err := decodeBody(body, &req); err != nil {
			t.Fatalf("fast path accepted %q, general decoder refused: %v", body, err)
		}
		wantCheck := !req.CheckRevocation.Set || req.CheckRevocation.Value
		if has != req.Token.Set || string(tok) != req.Token.Value || check != wantCheck {
			t.Fatalf("%q: fast = (%q,%v,%v), general = (%q,%v,%v)", body, tok, check, has, req.Token.Value, wantCheck, req.Token.Set)
		}
	})
}

func TestDecodeBatchFastAgreesWithGeneralDecoder(t *testing.T) {
	tests := []struct {
		body   string
		fastOK bool
	}{
		{`{"tokens":["a.b.c","d.e.f"],"check_revocation":false}`, true},
		{` { "tokens" : [ ] } `, true},
		{`{"check_revocation":true,"tokens":["x"]}`, true},
		{`{}`, true},
		{`{"tokens":["a",]}`, false},
		{`{"tokens":["a\"b"]}`, false},
		{`{"tokens":[1]}`, false},
		{`{"tokens":"a"}`, false},
		{`{"tokens":["a"],"tokens":["b"]}`, false},
		{`{"tokens":["a"]}x`, false},
		{`{"tokens":["a"],"extra":1}`, false},
	}
	for _, tc := range tests {
		toks, check, has, ok := decodeBatchFast([]byte(tc.body), nil)
		if ok != tc.fastOK {
			t.Errorf("%s: fast ok = %v, want %v", tc.body, ok, tc.fastOK)
			continue
		}
		if !ok {
			continue
		}
		var req batchRequest
		if err := decodeBody([]byte(tc.body), &req); err != nil {
			t.Fatalf("%s: general decoder: %v", tc.body, err)
		}
		if has != (req.Tokens != nil) || len(toks) != len(req.Tokens) || check != (!req.CheckRevocation.Set || req.CheckRevocation.Value) {
			t.Fatalf("%s: fast = (%q,%v,%v), general = %+v", tc.body, toks, check, has, req)
		}
		for i := range toks {
			if string(toks[i]) != req.Tokens[i].Value {
				t.Fatalf("%s: token %d differs", tc.body, i)
			}
		}
	}
}

func FuzzDecodeBatchFast(f *testing.F) {
	for _, s := range []string{`{"tokens":["a.b.c","x"],"check_revocation":true}`, `{"tokens":[]}`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		toks, check, has, ok := decodeBatchFast(body, nil)
		if !ok {
			return
		}
		var req batchRequest
		if err := decodeBody(body, &req); err != nil {
			t.Fatalf("fast path accepted %q, general decoder refused: %v", body, err)
		}
		if has != (req.Tokens != nil) || len(toks) != len(req.Tokens) || check != (!req.CheckRevocation.Set || req.CheckRevocation.Value) {
			t.Fatalf("%q: fast and general disagree", body)
		}
		for i := range toks {
			if string(toks[i]) != req.Tokens[i].Value {
				t.Fatalf("%q: token %d differs", body, i)
			}
		}
	})
}
