package httpapi

import (
	"crypto/sha256"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/time/rate"
)

// limiter is a per-client token-bucket rate limiter with bounded memory:
// one bucket per admin key (when the request carries one) or client IP,
// idle buckets evicted. Safe for concurrent use.
type limiter struct {
	perSecond rate.Limit
	burst     int
	mu        sync.Mutex
	buckets   map[[32]byte]*bucket
	maxKeys   int
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(perSecond float64, burst int) *limiter {
	if perSecond <= 0 {
		return nil
	}
	return &limiter{perSecond: rate.Limit(perSecond), burst: burst, buckets: map[[32]byte]*bucket{}, maxKeys: 100_000}
}

// allow reports whether the request may proceed, and otherwise how long the
// client should wait.
// adminKey is the verified admin key of the request, or nil: a bucket per
// made-up Authorization header would let any client escape its limit.
func (l *limiter) allow(ctx *fasthttp.RequestCtx, adminKey []byte) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	var key [32]byte
	if adminKey != nil {
		key = sha256.Sum256(adminKey)
	} else {
		key = sha256.Sum256(ctx.RemoteIP())
	}
	now := time.Now()
	l.mu.Lock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.maxKeys || now.Sub(l.lastSweep) > time.Minute {
			l.sweep(now)
		}
		b = &bucket{lim: rate.NewLimiter(l.perSecond, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	l.mu.Unlock()
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep drops buckets idle long enough to be full again (and, if still too
// many, all of them: a flood of distinct clients must not exhaust memory).
func (l *limiter) sweep(now time.Time) {
	full := time.Duration(float64(l.burst)/float64(l.perSecond)*float64(time.Second)) + time.Second
	for k, b := range l.buckets {
		if now.Sub(b.seen) > full {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= l.maxKeys {
		clear(l.buckets)
	}
	l.lastSweep = now
}

func errRateLimited(ctx *fasthttp.RequestCtx, wait time.Duration) error {
	secs := int(math.Ceil(wait.Seconds()))
	ctx.Response.Header.Set("Retry-After", strconv.Itoa(max(secs, 1)))
	return requestError(ErrRateLimited, "Rate limit exceeded; retry after %d s", max(secs, 1))
}
