package server

import (
	"fmt"

	"github.com/revocd/revocd/actors/outbox"
	"github.com/revocd/revocd/transport/httpapi"
)

// deliveryCheck is the /ready entry of an outbox destination: not ok when
// its broker does not answer or lacks what delivery needs (pingErr), or
// when the last delivery attempt failed, with that error as the reason. A
// destination that answers pings but cannot deliver (a deleted topic, say)
// is not reported ok. It does not gate the node's readiness: the outbox
// holds the backlog and delivers it in order once the destination
// recovers.
func deliveryCheck(pingErr error, prog *outbox.Progress) httpapi.Check {
	if pingErr != nil {
		return httpapi.Check{OK: false, Detail: pingErr.Error()}
	}
	if prog != nil {
		if ok, lastErr := prog.Healthy(); !ok && lastErr != "" {
			return httpapi.Check{OK: false, Detail: fmt.Sprintf("cannot deliver (backlog %d): %s", prog.Backlog(), lastErr)}
		}
	}
	return httpapi.Check{OK: true}
}
