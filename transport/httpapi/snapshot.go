package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/revocation"
)

// ActiveSnapshot is one page of GET /revocations/active.
type ActiveSnapshot struct {
	// Events are signed events still in force, in audit-log order.
	Events []revocation.Event `json:"events"`
	// NextCursor continues the snapshot; empty on its last page.
	NextCursor string `json:"next_cursor"`
	// ResumeAfter is the audit-log position to open GET /events/stream
	// from once every page is read: snapshot plus stream miss nothing.
	ResumeAfter int64 `json:"resume_after"`
}

// activeSnapshot serves GET /revocations/active?cursor=&limit=: the
// revocations in force, paged, plus the stream position to resume from.
// The first page (no cursor) fixes that position; later pages walk the
// events at or below it, so a revocation committed while paging arrives
// through the stream instead.
func (a *API) activeSnapshot(ctx *fasthttp.RequestCtx) error {
	f, err := a.feedFor(ctx)
	if err != nil {
		return err
	}
	limit, err := queryInt(ctx, "limit", 500)
	if err != nil {
		return err
	}
	if limit < 1 || limit > 1000 {
		return requestError(ErrInvalidField, "limit must be between 1 and 1000")
	}
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var upto, after int64
	if cur := string(ctx.QueryArgs().Peek("cursor")); cur != "" {
		u, af, ok := strings.Cut(cur, ".")
		upto, err = strconv.ParseInt(u, 10, 64)
		if err == nil {
			after, err = strconv.ParseInt(af, 10, 64)
		}
		if !ok || err != nil || upto < 0 || after < 0 || after > upto {
			return requestError(ErrInvalidField, "cursor: not a cursor this endpoint returned")
		}
	} else if upto, err = f.Log.LastEventID(c); err != nil {
		return err
	}
	rows, err := f.Log.ActiveEventsPage(c, time.Now().UnixMilli(), after, upto, int(limit))
	if err != nil {
		return err
	}
	page := ActiveSnapshot{Events: make([]revocation.Event, len(rows)), ResumeAfter: upto}
	for i, r := range rows {
		page.Events[i] = r.Event
	}
	if len(rows) == int(limit) {
		page.NextCursor = strconv.FormatInt(upto, 10) + "." + strconv.FormatInt(rows[len(rows)-1].ID, 10)
	}
	writeJSON(ctx, http.StatusOK, page)
	return nil
}
