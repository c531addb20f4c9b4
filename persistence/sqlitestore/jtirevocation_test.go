package sqlitestore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/revocd/revocd/revocation"
)

// TestJTIRevocation: the lookup finds the first revoke_jti event of a jti
// with the given expiry, in the transaction and through the read pool, and
// probes the covering index instead of scanning the log.
func TestJTIRevocation(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	first := mkEvent("n1", 1, 1000, 5000)
	first.Value = "refresh-1"
	again := mkEvent("n1", 2, 1100, 5000) // a later event of the same jti and expiry
	again.Value = "refresh-1"
	ttl := mkEvent("n1", 3, 1200, 9000) // same jti, other expiry
	ttl.Value = "refresh-2"
	sub := mkEvent("n1", 4, 1300, 5000)
	sub.Type, sub.Value = revocation.TypeSub, "refresh-3"
	insertEvents(t, s, first, again, ttl, sub)

	tests := []struct {
		jti     string
		exp     int64
		wantID  string
		wantPos int64
	}{
		{"refresh-1", 5000, first.EventID, 1},
		{"refresh-1", 5001, "", 0},
		{"refresh-2", 9000, ttl.EventID, 3},
		{"refresh-2", 5000, "", 0},
		{"refresh-3", 5000, "", 0}, // a revoke_sub with that value is not a jti revocation
		{"unknown", 5000, "", 0},
	}
	for _, tc := range tests {
		id, pos, found, err := s.JTIRevocation(ctx, tc.jti, tc.exp)
		if err != nil || found != (tc.wantID != "") || id != tc.wantID || pos != tc.wantPos {
			t.Errorf("Store.JTIRevocation(%s, %d) = %q, %d, %v, %v; want %q, %d", tc.jti, tc.exp, id, pos, found, err, tc.wantID, tc.wantPos)
		}
		commit(t, s, func(tx *Tx) {
			id2, pos2, found2, err := tx.JTIRevocation(tc.jti, tc.exp)
			if err != nil || id2 != id || pos2 != pos || found2 != found {
				t.Errorf("Tx.JTIRevocation(%s, %d) = %q, %d, %v, %v; Store gave %q, %d, %v", tc.jti, tc.exp, id2, pos2, found2, err, id, pos, found)
			}
		})
	}

	rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+jtiRevocationSQL, 5000, "refresh-1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "revocation_events_active (expires_at=? AND type=? AND value=?)") {
		t.Fatalf("query plan %q does not probe the covering index", p)
	}
}

// TestSupersedeRefresh: only a retired, unrevoked token's successor can be
// replaced.
func TestSupersedeRefresh(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	commit(t, s, func(tx *Tx) {
		for _, jti := range []string{"a", "b", "live", "gone"} {
			if err := tx.InsertRefresh(RefreshToken{JTI: jti, Subject: "s", FamilyID: "F", IssuedAt: 1, ExpiresAt: 1e12}); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.RetireRefresh("a", "b", 10); err != nil {
			t.Fatal(err)
		}
		if err := tx.RetireRefresh("gone", "x", 10); err != nil {
			t.Fatal(err)
		}
		if _, _, err := tx.RevokeRefresh("gone", "test"); err != nil {
			t.Fatal(err)
		}
		if err := tx.SupersedeRefresh("a", "b2"); err != nil {
			t.Fatalf("SupersedeRefresh(retired) = %v", err)
		}
		for _, jti := range []string{"live", "gone", "unknown"} {
			if err := tx.SupersedeRefresh(jti, "z"); !errors.Is(err, ErrRefreshNotFound) {
				t.Errorf("SupersedeRefresh(%s) = %v, want ErrRefreshNotFound", jti, err)
			}
		}
	})
	a, _, err := s.GetRefresh(ctx, "a")
	if err != nil || a.ReplacedBy != "b2" || a.RetiredAt != 10 {
		t.Fatalf("a = %+v, %v; want replaced by b2, retired at 10", a, err)
	}
}

// TestRevokeRefreshIfActive: it revokes an active token once and reads
// nothing otherwise.
func TestRevokeRefreshIfActive(t *testing.T) {
	s, _ := openTest(t)
	commit(t, s, func(tx *Tx) {
		if err := tx.InsertRefresh(RefreshToken{JTI: "r", Subject: "s", FamilyID: "F", IssuedAt: 1, ExpiresAt: 1e12}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			jti     string
			revoked bool
		}{{"r", true}, {"r", false}, {"unknown", false}}
		for i, tc := range tests {
			row, revoked, err := tx.RevokeRefreshIfActive(tc.jti, "test")
			if err != nil || revoked != tc.revoked || (row.JTI != "") != tc.revoked || (tc.revoked && (!row.Revoked || row.RevokedReason != "test")) {
				t.Errorf("call %d RevokeRefreshIfActive(%s) = %+v, %v, %v; want revoked %v", i, tc.jti, row, revoked, err, tc.revoked)
			}
		}
	})
}
