package sqlitestore

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"testing"
)

func jtis(rs []RefreshToken) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.JTI)
	}
	sort.Strings(out)
	return out
}

func TestRefreshLifecycle(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	rt := func(jti, sub, fam, parent string, iat int64) RefreshToken {
		return RefreshToken{JTI: jti, Subject: sub, FamilyID: fam, ParentJTI: parent,
			BindingHash: []byte("bind-" + jti), IssuedAt: iat, ExpiresAt: iat + 1e6, AccessJTI: "a-" + jti}
	}
	commit(t, s, func(tx *Tx) {
		for _, r := range []RefreshToken{
			rt("r1", "alice", "F", "", 100), rt("g1", "alice", "G", "", 150),
			rt("g2", "alice", "G2", "", 151), rt("h1", "bob", "H", "", 100),
		} {
			if err := tx.InsertRefresh(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.InsertRefresh(rt("r1", "x", "y", "", 1)); !errors.Is(err, ErrRefreshExists) {
			t.Fatalf("duplicate InsertRefresh = %v", err)
		}
	})

	// Rotation r1 -> r2 -> r3, the way the token service does it.
	rotate := func(old, next string, at int64) {
		commit(t, s, func(tx *Tx) {
			cur, ok, err := tx.GetRefresh(old)
			if err != nil || !ok || cur.Revoked || cur.RetiredAt != 0 {
				t.Fatalf("GetRefresh(%s) = %+v, %v, %v", old, cur, ok, err)
			}
			if err := tx.InsertRefresh(rt(next, cur.Subject, cur.FamilyID, old, at)); err != nil {
				t.Fatal(err)
			}
			if err := tx.RetireRefresh(old, next, at); err != nil {
				t.Fatal(err)
			}
		})
	}
	rotate("r1", "r2", 200)
	rotate("r2", "r3", 300)

	r1, ok, err := s.GetRefresh(ctx, "r1")
	want := rt("r1", "alice", "F", "", 100)
	want.RetiredAt, want.ReplacedBy = 200, "r2"
	if err != nil || !ok || !reflect.DeepEqual(r1, want) {
		t.Fatalf("GetRefresh(r1) = %+v, %v, %v; want %+v", r1, ok, err, want)
	}
	if r3, ok, _ := s.GetRefresh(ctx, "r3"); !ok || r3.ParentJTI != "r2" || r3.RetiredAt != 0 || r3.FamilyID != "F" {
		t.Fatalf("GetRefresh(r3) = %+v", r3)
	}
	if _, ok, err := s.GetRefresh(ctx, "nope"); ok || err != nil {
		t.Fatalf("GetRefresh(unknown) = %v, %v", ok, err)
	}

	type step struct {
		name string
		run  func(tx *Tx) ([]RefreshToken, error)
		want []string
		err  error
	}
	steps := []step{
		{"retire twice is reuse", func(tx *Tx) ([]RefreshToken, error) {
			return nil, tx.RetireRefresh("r1", "rX", 400)
		}, []string{}, ErrRefreshRetired},
		{"retire unknown", func(tx *Tx) ([]RefreshToken, error) {
			return nil, tx.RetireRefresh("nope", "rX", 400)
		}, []string{}, ErrRefreshNotFound},
		{"family revoke returns the whole family", func(tx *Tx) ([]RefreshToken, error) {
			return tx.RevokeRefreshFamily("F", "reuse_detected")
		}, []string{"r1", "r2", "r3"}, nil},
		{"family revoke again returns nothing", func(tx *Tx) ([]RefreshToken, error) {
			return tx.RevokeRefreshFamily("F", "reuse_detected")
		}, []string{}, nil},
		{"retire revoked", func(tx *Tx) ([]RefreshToken, error) {
			return nil, tx.RetireRefresh("r3", "r4", 400)
		}, []string{}, ErrRefreshRevoked},
		{"subject revoke honours the cutoff", func(tx *Tx) ([]RefreshToken, error) {
			return tx.RevokeRefreshBySubject("alice", 150, "logout_all")
		}, []string{"g1"}, nil},
		{"single revoke", func(tx *Tx) ([]RefreshToken, error) {
			r, ok, err := tx.RevokeRefresh("h1", "admin")
			if !ok || !r.Revoked || r.RevokedReason != "admin" || r.AccessJTI != "a-h1" {
				t.Errorf("RevokeRefresh(h1) = %+v, %v", r, ok)
			}
			return []RefreshToken{r}, err
		}, []string{"h1"}, nil},
		{"single revoke again", func(tx *Tx) ([]RefreshToken, error) {
			r, ok, err := tx.RevokeRefresh("h1", "admin")
			if ok || r.JTI != "h1" || !r.Revoked {
				t.Errorf("second RevokeRefresh(h1) = %+v, %v", r, ok)
			}
			return nil, err
		}, []string{}, nil},
		{"single revoke unknown", func(tx *Tx) ([]RefreshToken, error) {
			r, ok, err := tx.RevokeRefresh("nope", "admin")
			if ok || r.JTI != "" {
				t.Errorf("RevokeRefresh(unknown) = %+v, %v", r, ok)
			}
			return nil, err
		}, []string{}, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			commit(t, s, func(tx *Tx) {
				got, err := st.run(tx)
				if !errors.Is(err, st.err) {
					t.Fatalf("err = %v, want %v", err, st.err)
				}
				if g := jtis(got); !reflect.DeepEqual(g, st.want) {
					t.Fatalf("rows = %v, want %v", g, st.want)
				}
				for _, r := range got {
					if !r.Revoked || r.RevokedReason == "" || r.AccessJTI != "a-"+r.JTI {
						t.Errorf("returned row %+v lacks revocation or access jti", r)
					}
				}
			})
		})
	}

	// Final state, as the seed query sees it.
	rows, err := s.r.QueryContext(ctx, "SELECT jti FROM refresh_tokens WHERE revoked = 0 ORDER BY jti")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var live []string
	for rows.Next() {
		var j string
		rows.Scan(&j)
		live = append(live, j)
	}
	if !reflect.DeepEqual(live, []string{"g2"}) {
		t.Fatalf("unrevoked tokens = %v, want [g2]", live)
	}
}
