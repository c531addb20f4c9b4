package validator

import (
	"context"
	"errors"
	"net/http"

	"github.com/valyala/fasthttp"
)

// claimsKey is the context key of the request's Claims.
type claimsKey struct{}

// ClaimsFromContext returns the Claims Middleware stored for the request.
func ClaimsFromContext(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(Claims)
	return c, ok
}

// ClaimsUserValue is the fasthttp user value under which FastHTTPMiddleware
// stores the request's Claims.
const ClaimsUserValue = "revocd.claims"

// StatusFor returns the HTTP status a resource server answers for err from
// Validate: 200 for nil, 503 for ErrStale (the view may lack a revocation:
// retry later), 401 otherwise.
func StatusFor(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrStale), errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

// detail is the JSON body of a refused request.
func detail(status int) string {
	if status == http.StatusServiceUnavailable {
		return `{"detail":"Revocation state unavailable; retry later"}`
	}
	return `{"detail":"Invalid or revoked token"}`
}

// Middleware guards next: a request without a valid
// "Authorization: Bearer <token>" gets 401 (with WWW-Authenticate), or
// 503 with Retry-After while the view is stale; a valid one reaches next
// with its Claims in the context (ClaimsFromContext).
func (v *Validator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if len(h) < 8 || !(h[:7] == "Bearer " || h[:7] == "bearer ") {
			refuse(w, http.StatusUnauthorized)
			return
		}
		c, err := v.Validate(h[7:])
		if err != nil {
			refuse(w, StatusFor(err))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
	})
}

func refuse(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	} else {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(detail(status)))
}

// FastHTTPMiddleware is Middleware for fasthttp: a valid request reaches
// next with its Claims as the user value ClaimsUserValue.
func (v *Validator) FastHTTPMiddleware(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		h := ctx.Request.Header.Peek("Authorization")
		status := http.StatusUnauthorized
		if len(h) >= 8 && (string(h[:7]) == "Bearer " || string(h[:7]) == "bearer ") {
			c, err := v.ValidateBytes(h[7:])
			if err == nil {
				ctx.SetUserValue(ClaimsUserValue, c)
				next(ctx)
				return
			}
			status = StatusFor(err)
		}
		ctx.SetContentType("application/json")
		if status == http.StatusUnauthorized {
			ctx.Response.Header.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		} else {
			ctx.Response.Header.Set("Retry-After", "1")
		}
		ctx.SetStatusCode(status)
		ctx.SetBodyString(detail(status))
	}
}
