package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/actors/msg"
	"github.com/revocd/revocd/transport/httpapi/apidocs"
	"github.com/revocd/revocd/transport/wire"
)

// health serves GET /health: the process is up.
func (a *API) health(ctx *fasthttp.RequestCtx) error {
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"ok": true}`)
	return nil
}

// ready serves GET /ready: 200 when the index is loaded and SQLite answers,
// 503 otherwise, with every dependency's status.
func (a *API) ready(ctx *fasthttp.RequestCtx) error {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r := Readiness{Ready: true, Checks: map[string]Check{}}
	if a.d.Ready != nil {
		r = a.d.Ready(c)
	}
	status := http.StatusOK
	if !r.Ready {
		status = http.StatusServiceUnavailable
	}
	writeJSON(ctx, status, r)
	return nil
}

func (a *API) metrics(ctx *fasthttp.RequestCtx) error {
	a.d.Metrics.handler(ctx)
	return nil
}

// docs serves the embedded interactive API page under /docs.
func (a *API) docs(ctx *fasthttp.RequestCtx) error {
	sub := string(ctx.Path())[len("/docs"):]
	body, ctype, ok := apidocs.Asset(sub)
	if !ok {
		return ErrNotFound
	}
	ctx.SetContentType(ctype)
	ctx.Response.Header.Set("Cache-Control", "public, max-age=3600")
	ctx.SetBody(body)
	return nil
}

func (a *API) openapi(ctx *fasthttp.RequestCtx) error {
	ctx.SetContentType("application/json")
	ctx.SetBody(apidocs.OpenAPI())
	return nil
}

func (a *API) jwks(ctx *fasthttp.RequestCtx) error {
	ctx.SetContentType("application/jwk-set+json")
	ctx.Response.Header.Set("Cache-Control", "public, max-age=60")
	ctx.SetBody(a.d.Ring.JWKS())
	return nil
}

func (a *API) eventKeys(ctx *fasthttp.RequestCtx) error {
	ctx.SetContentType("application/json")
	if a.d.EventKeys == nil {
		ctx.SetBodyString(`{"keys":[]}`)
		return nil
	}
	ctx.SetBody(a.d.EventKeys())
	return nil
}

// feed serves GET /revocations?after=N&limit=M: committed events in audit-log
// order after position N. "next" is the position to ask for next.
func (a *API) feed(ctx *fasthttp.RequestCtx) error {
	after, err := queryInt(ctx, "after", 0)
	if err != nil {
		return err
	}
	limit, err := queryInt(ctx, "limit", 100)
	if err != nil {
		return err
	}
	if after < 0 || limit < 1 || limit > 1000 {
		return requestError(ErrInvalidField, "after must be >= 0 and limit between 1 and 1000")
	}
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := a.d.Store.EventsAfter(c, after, int(limit))
	if err != nil {
		return err
	}
	page := wire.EventPage{Events: make([]wire.Event, len(rows)), Next: after}
	for i, r := range rows {
		page.Events[i] = r.Event
		page.Next = r.ID
	}
	writeJSON(ctx, http.StatusOK, page)
	return nil
}

func queryInt(ctx *fasthttp.RequestCtx, name string, def int64) (int64, error) {
	v := ctx.QueryArgs().Peek(name)
	if len(v) == 0 {
		return def, nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, requestError(ErrInvalidField, "%s: expected an integer", name)
	}
	return n, nil
}

// rotateKey serves POST /admin/keys/rotate: a fresh signing key becomes
// current; the old one verifies until its last token expires.
func (a *API) rotateKey(ctx *fasthttp.RequestCtx) error {
	res, err := a.ask(a.d.Issuer, &msg.RotateKey{})
	if err != nil {
		return err
	}
	var rot *msg.Rotated
	switch r := res.(type) {
	case *msg.Rotated:
		rot = r
	case *msg.Failed:
		return r.Err
	default:
		return fmt.Errorf("httpapi: unexpected answer %T from the issuer", res)
	}
	writeJSON(ctx, http.StatusOK, wire.Rotated{Rotated: rot.Rotated, Kid: rot.Kid})
	return nil
}
