package revocation

import (
	"errors"
	"strings"
	"testing"
)

func validRow(jti, parent, replacedBy string) RefreshRow {
	r := RefreshRow{JTI: jti, Subject: "alice", Family: "fam", Parent: parent, BindingHash: []byte("h"),
		IssuedAt: 1000, ExpiresAt: 2000, AccessJTI: "acc-" + jti, ReplacedBy: replacedBy}
	if replacedBy != "" {
		r.RetiredAt = 1500
	}
	return r
}

func TestRefreshStateRoundTripAndValidate(t *testing.T) {
	rot := func(mut func(s *RefreshState)) RefreshState {
		p := validRow("p", "", "c")
		s := RefreshState{Token: validRow("c", "p", ""), Parent: &p}
		if mut != nil {
			mut(&s)
		}
		return s
	}
	cases := []struct {
		name string
		s    RefreshState
		ok   bool
	}{
		{"create", RefreshState{Token: validRow("r", "", "")}, true},
		{"rotation", rot(nil), true},
		{"grace retry", rot(func(s *RefreshState) { r := validRow("c0", "p", "c"); s.Superseded = &r }), true},
		{"empty jti", RefreshState{Token: validRow("", "", "")}, false},
		{"long subject", RefreshState{Token: func() RefreshRow {
			r := validRow("r", "", "")
			r.Subject = strings.Repeat("s", MaxValueLen+1)
			return r
		}()}, false},
		{"long binding hash", RefreshState{Token: func() RefreshRow { r := validRow("r", "", ""); r.BindingHash = make([]byte, 65); return r }()}, false},
		{"expires before issued", RefreshState{Token: func() RefreshRow { r := validRow("r", "", ""); r.ExpiresAt = 10; return r }()}, false},
		{"new token retired", RefreshState{Token: validRow("r", "", "x")}, false},
		{"parent row missing", RefreshState{Token: validRow("c", "p", "")}, false},
		{"parent not retired into token", rot(func(s *RefreshState) { s.Parent.ReplacedBy = "other" }), false},
		{"parent of another family", rot(func(s *RefreshState) { s.Parent.Family = "other" }), false},
		{"parent row is not the parent", rot(func(s *RefreshState) { s.Parent.JTI = "q" }), false},
		{"superseded without parent", RefreshState{Token: validRow("r", "", ""), Superseded: &RefreshRow{}}, false},
		{"superseded is the token", rot(func(s *RefreshState) { r := validRow("c", "p", "c"); s.Superseded = &r }), false},
		{"self parent", RefreshState{Token: validRow("r", "r", "")}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := tc.s.Marshal()
			if (err == nil) != tc.ok {
				t.Fatalf("Marshal err = %v, want ok %v", err, tc.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrBadRefreshState) {
					t.Fatalf("err %v does not wrap ErrBadRefreshState", err)
				}
				return
			}
			got, err := UnmarshalRefreshState(data, tc.s.Token.JTI)
			if err != nil || got.Token.JTI != tc.s.Token.JTI || string(got.Token.BindingHash) != "h" {
				t.Fatalf("round trip = %+v, %v", got, err)
			}
			if _, err := UnmarshalRefreshState(data, "another"); !errors.Is(err, ErrBadRefreshState) {
				t.Fatalf("value mismatch accepted: %v", err)
			}
		})
	}
	for _, data := range []string{"", "{", `{"v":2}`, `{"v":1,"token":{}}`, "null"} {
		if _, err := UnmarshalRefreshState([]byte(data), "r"); !errors.Is(err, ErrBadRefreshState) {
			t.Errorf("UnmarshalRefreshState(%q) = %v, want ErrBadRefreshState", data, err)
		}
	}
}
