package revoker

import (
	"testing"
	"time"

	"github.com/revocd/revocd/actors/audit"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/revocation"
)

// TestRevokeSubCoversNodeWithClockAhead (issue #11: clock skew does not
// reopen a revocation): node A, whose clock runs ahead of node B's by up to
// MAX_CLOCK_SKEW_SECONDS, issues a token; B then acknowledges a revoke_sub
// of that subject, and A applies B's event as its intake does. The token
// must be revoked on both nodes, and tokens issued afterwards on either
// node must live. The old cutoff was B's current second alone, so a token
// whose iat came from a clock 1.5 s ahead outlived the revocation.
func TestRevokeSubCoversNodeWithClockAhead(t *testing.T) {
	const skew = 2 * time.Second
	for _, offset := range []time.Duration{0, 750 * time.Millisecond, 1500 * time.Millisecond, skew, -1500 * time.Millisecond} {
		t.Run(offset.String(), func(t *testing.T) {
			a := newFixture(t, fixtureOpts{clockOffset: offset, skew: skew})
			b := newFixture(t, fixtureOpts{skew: skew})
			tok := a.issueAccess("zoe")
			ev := b.revoke(revocation.TypeSub, "zoe")
			audit.ApplyEvent(a.ix, ev)
			for name, n := range map[string]*fixture{"A": a, "B": b} {
				if got := n.revoked(tok); got != index.Sub {
					t.Fatalf("node %s: token issued on A (iat %d) before the revocation (cutoff %d): %v, want revoked",
						name, parse(t, tok).Iat, ev.SubCutoff(), got)
				}
			}
			for name, n := range map[string]*fixture{"A": a, "B": b} {
				if after := n.issueAccess("zoe"); a.revoked(after) != index.None || b.revoked(after) != index.None {
					t.Fatalf("token issued on %s after the revocation (iat %d, cutoff %d) is revoked", name, parse(t, after).Iat, ev.SubCutoff())
				}
			}
		})
	}
}
