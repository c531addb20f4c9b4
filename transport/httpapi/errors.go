package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/valyala/fasthttp"
)

// apiError is an error with the HTTP status it maps to. Every error response
// of the API is JSON {"detail": "..."}.
type apiError struct {
	status int
	detail string
}

func (e *apiError) Error() string { return e.detail }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, detail: fmt.Sprintf(format, args...)}
}

var (
	errUnauthorized = &apiError{status: http.StatusUnauthorized, detail: "Missing or invalid admin API key"}
	errNotReady     = &apiError{status: http.StatusServiceUnavailable, detail: "Revocation index is loading; try again shortly"}
	errNotFound     = &apiError{status: http.StatusNotFound, detail: "Not Found"}
)

// writeError renders err as {"detail": ...} with the status it maps to. Errors
// that are not *apiError are internal: their text is logged, not shown.
func (a *API) writeError(ctx *fasthttp.RequestCtx, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		a.log.Error("request failed", "path", string(ctx.Path()), "request_id", requestID(ctx), "err", err)
		ae = &apiError{status: http.StatusInternalServerError, detail: "Internal server error"}
	}
	if ae.status == http.StatusUnauthorized {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="revocd"`)
	}
	writeJSON(ctx, ae.status, map[string]string{"detail": ae.detail})
}
