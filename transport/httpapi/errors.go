package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/actors/msg"
	"github.com/revocd/revocd/transport/wire"
)

// Sentinel errors of the API. Handlers return them wrapped (see
// requestError for request errors whose detail names the field);
// writeError maps them, and the sentinels of the actors the handlers call,
// to a status and the text clients see, with the table errorTable: the one
// place where errors become HTTP answers.
var (
	// ErrMalformedBody: the body is empty, not JSON or not UTF-8 (400).
	ErrMalformedBody = errors.New("httpapi: malformed request body")
	// ErrInvalidField: a field breaks the schema (422); the detail names it.
	ErrInvalidField = errors.New("httpapi: invalid field")
	// ErrUnauthorized: an admin endpoint without a valid admin key (401).
	ErrUnauthorized = errors.New("httpapi: missing or invalid admin API key")
	// ErrNotFound: no such path (404).
	ErrNotFound = errors.New("httpapi: not found")
	// ErrMethodNotAllowed: the path has no route for the method (405).
	ErrMethodNotAllowed = errors.New("httpapi: method not allowed")
	// ErrRateLimited: the client's rate limit is used up (429).
	ErrRateLimited = errors.New("httpapi: rate limited")
	// ErrNotReady: the revocation index is still loading (503).
	ErrNotReady = errors.New("httpapi: revocation index not ready")
	// ErrTimeout: an actor did not answer within RequestTimeout (503).
	ErrTimeout = errors.New("httpapi: timed out waiting for an actor")
	// ErrInvalidRefreshToken: a refresh token that does not verify, is not
	// a refresh token or carries an unreadable payload (401); the detail
	// says why when it can (requestError).
	ErrInvalidRefreshToken = errors.New("httpapi: invalid refresh token")
	// ErrOAuthRequest: an OAuth 2.0 endpoint (RFC 7009/7662) was sent a
	// request it cannot read (400, "invalid_request: ..." as RFC 6749
	// section 5.2 names the error).
	ErrOAuthRequest = errors.New("httpapi: invalid OAuth request")
	// ErrRevocationNotRecorded: a revocation whose audit-log transaction
	// failed (503); it wraps the actor's msg.ErrUnavailable, and its row
	// precedes that one so that /revoke says the revocation was not
	// recorded.
	ErrRevocationNotRecorded = errors.New("httpapi: revocation not recorded")
)

// errorTable maps sentinel errors to a status and the default detail text
// (an error built by requestError carries its own detail). The
// first row whose error errors.Is matches wins. Errors matching no row are
// internal: 500, logged, their text never shown.
var errorTable = [...]struct {
	err    error
	status int
	detail string
}{
	{ErrMalformedBody, http.StatusBadRequest, "Malformed JSON body"},
	{ErrInvalidField, http.StatusUnprocessableEntity, "Invalid request"},
	{ErrUnauthorized, http.StatusUnauthorized, "Missing or invalid admin API key"},
	{ErrNotFound, http.StatusNotFound, "Not Found"},
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed, "Method Not Allowed"},
	{ErrRateLimited, http.StatusTooManyRequests, "Rate limit exceeded"},
	{ErrNotReady, http.StatusServiceUnavailable, "Revocation index is loading; try again shortly"},
	{ErrTimeout, http.StatusServiceUnavailable, "Timed out waiting for the service; retry (requests are idempotent)"},
	{ErrInvalidRefreshToken, http.StatusUnauthorized, "Invalid refresh token"},
	{ErrOAuthRequest, http.StatusBadRequest, "invalid_request"},
	{ErrRevocationNotRecorded, http.StatusServiceUnavailable, "Audit log unavailable; the revocation was not recorded"},
	{msg.ErrUnavailable, http.StatusServiceUnavailable, "Audit log unavailable; try again"},
	{msg.ErrRefreshUnknown, http.StatusUnauthorized, "Invalid refresh token"},
	{msg.ErrRefreshRevoked, http.StatusUnauthorized, "Refresh token has been revoked"},
	{msg.ErrBindingMismatch, http.StatusUnauthorized, "Client binding mismatch"},
	{msg.ErrRefreshReused, http.StatusUnauthorized, "Refresh token reuse detected; the token family has been revoked"},
}

// errNotReady is ErrNotReady (the name the handlers use).
var errNotReady = ErrNotReady

// apiError is an error with the text clients see: kind is the sentinel of
// errorTable it reports (and so its status), detail the text.
type apiError struct {
	kind   error
	detail string
}

func (e *apiError) Error() string { return e.detail }

// Unwrap returns the sentinel the error reports.
func (e *apiError) Unwrap() error { return e.kind }

// requestError returns an error of kind (a sentinel of errorTable) whose
// detail, shown to the client, is the formatted text.
func requestError(kind error, format string, args ...any) error {
	return &apiError{kind: kind, detail: fmt.Sprintf(format, args...)}
}

// answer returns the status and detail text err is answered with; ok is
// false for an internal error (500).
func answer(err error) (status int, detail string, ok bool) {
	for _, row := range errorTable {
		if errors.Is(err, row.err) {
			status, detail = row.status, row.detail
			break
		}
	}
	if status == 0 {
		return http.StatusInternalServerError, "Internal server error", false
	}
	var ae *apiError
	if errors.As(err, &ae) && ae.detail != "" {
		detail = ae.detail
	}
	return status, detail, true
}

// writeError renders err as {"detail": ...} with the status it maps to
// (answer). Internal errors are logged, their text not shown.
func (a *API) writeError(ctx *fasthttp.RequestCtx, err error) {
	status, detail, ok := answer(err)
	if !ok {
		a.log.Error("request failed", "path", string(ctx.Path()), "request_id", requestID(ctx), "err", err)
	}
	if status == http.StatusUnauthorized {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="revocd"`)
	}
	writeJSON(ctx, status, wire.Error{Detail: detail})
}
