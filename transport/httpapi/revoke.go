package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/actors/msg"
	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/wire"
)

// maxRevocationTTL bounds ttl_seconds (ten years).
const maxRevocationTTL = 10 * 365 * 24 * 3600

type revokeRequest struct {
	Type       optString `json:"type"`
	Value      optString `json:"value"`
	TTLSeconds optInt    `json:"ttl_seconds"`
	Reason     optString `json:"reason"`
}

// revoke serves POST /revoke. It answers after the revocation event is
// committed to the audit log: a 200 means durable.
func (a *API) revoke(ctx *fasthttp.RequestCtx) error {
	var req revokeRequest
	if err := decodeBody(ctx.PostBody(), &req); err != nil {
		return err
	}
	typ := revocation.Type(req.Type.Value)
	switch {
	case !req.Type.Set:
		return requestError(ErrInvalidField, "type: field required")
	case !typ.Valid():
		return requestError(ErrInvalidField, "type: must be one of revoke_jti, revoke_sub, revoke_kid")
	case !req.Value.Set:
		return requestError(ErrInvalidField, "value: field required")
	case req.Value.Value == "":
		return requestError(ErrInvalidField, "value: must not be empty")
	case len(req.Value.Value) > revocation.MaxValueLen || !utf8.ValidString(req.Value.Value):
		return requestError(ErrInvalidField, "value: at most %d bytes of UTF-8", revocation.MaxValueLen)
	case req.TTLSeconds.Set && (req.TTLSeconds.Value < 1 || req.TTLSeconds.Value > maxRevocationTTL):
		return requestError(ErrInvalidField, "ttl_seconds: must be between 1 and %d", maxRevocationTTL)
	case len(req.Reason.Value) > revocation.MaxReasonLen || !utf8.ValidString(req.Reason.Value):
		return requestError(ErrInvalidField, "reason: at most %d bytes of UTF-8", revocation.MaxReasonLen)
	}
	cmd := &msg.Revoke{Type: typ, Value: req.Value.Value, TTL: time.Duration(req.TTLSeconds.Value) * time.Second, Reason: req.Reason.Value}
	eventID, logID, err := a.commitRevocation(cmd)
	if err != nil {
		return err
	}
	writeJSON(ctx, http.StatusOK, wire.RevokeResponse{EventID: eventID, Published: a.published(ctx, logID)})
	return nil
}

// commitRevocation sends request (a *msg.Revoke or *msg.RevokeRefresh)
// to the revocation actor and waits for its one typed answer, sent once the
// revocation is durable. It returns the event id of the revocation and the
// audit-log position whose delivery makes it published: the committed
// batch's last event for a new revocation, the stored event for a refresh
// token revoked before (msg.AlreadyRevoked; both zero when that has no
// event of its own).
func (a *API) commitRevocation(request any) (eventID string, logID int64, err error) {
	res, err := a.ask(a.d.Revoker, request)
	if err != nil {
		return "", 0, err
	}
	switch r := res.(type) {
	case *msg.Revoked:
		return r.Event.EventID, r.LogID, nil
	case *msg.AlreadyRevoked:
		return r.EventID, r.LogID, nil
	case *msg.Failed:
		if errors.Is(r.Err, msg.ErrUnavailable) {
			return "", 0, fmt.Errorf("%w: %w", ErrRevocationNotRecorded, r.Err)
		}
		return "", 0, r.Err
	}
	return "", 0, fmt.Errorf("httpapi: unexpected answer %T from the revocation actor", res)
}

// publishAnswerSlack bounds how long after PublishWait the handler waits
// for the Kafka bridge's answer, which is due at the deadline: it matters
// only if the actor is gone or stuck.
const publishAnswerSlack = time.Second

// published asks the Kafka bridge actor whether Kafka acknowledged the
// audit log up to lastID within PUBLISH_WAIT_MS: a typed request
// (msg.AwaitDelivered) answered by the actor when its delivery cursor
// passes lastID or the deadline passes.
func (a *API) published(_ *fasthttp.RequestCtx, lastID int64) bool {
	if a.d.KafkaOutbox == nil || a.d.Engine == nil || lastID == 0 {
		return false
	}
	req := &msg.AwaitDelivered{LogID: lastID, Deadline: time.Now().Add(a.cfg.PublishWait)}
	res, err := a.d.Engine.Request(a.d.KafkaOutbox, req, a.cfg.PublishWait+publishAnswerSlack).Result()
	if err != nil {
		a.log.Warn("httpapi: the Kafka bridge did not answer", "log_id", lastID, "err", err)
		return false
	}
	d, ok := res.(*msg.Delivered)
	return ok && d.OK
}
