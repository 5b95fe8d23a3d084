package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// FallbackProbe is how long a Fallback keeps to its local limiter after
// the shared one failed before it tries the shared one again.
const FallbackProbe = time.Second

// ProbeTimeout bounds a try of the shared limiter while it is known to be
// down: the one request that probes waits at most this long (a refused
// connection answers at once; a silent host is cut off here).
const ProbeTimeout = 100 * time.Millisecond

// Fallback counts in a shared limiter (Redis, so that replicas agree) and,
// while that cannot be reached, in a per-instance one: requests keep
// flowing and stay limited, each replica counting alone, instead of every
// rate-limited endpoint failing with the shared store. The switch is
// logged once each way. While down, the shared limiter is tried at most
// once per FallbackProbe, by one request only (the others use the local
// limiter meanwhile), and that try is bounded by ProbeTimeout, so requests
// do not wait for a dead server.
type Fallback struct {
	shared, local mobileauth.RateLimiter
	log           *slog.Logger

	mu      sync.Mutex
	down    bool
	retryAt time.Time
}

// NewFallback returns a limiter using shared while it answers, else local.
func NewFallback(shared, local mobileauth.RateLimiter, log *slog.Logger) *Fallback {
	return &Fallback{shared: shared, local: local, log: log}
}

// Hit implements mobileauth.RateLimiter.
func (f *Fallback) Hit(ctx context.Context, key string, l mobileauth.RateLimit, now time.Time) (mobileauth.RateDecision, error) {
	f.mu.Lock()
	probing := f.down && !now.Before(f.retryAt)
	try := !f.down || probing
	if probing {
		// This request probes; until it knows, the next probe is not due,
		// so concurrent requests keep to the local limiter instead of
		// piling onto a dead server.
		f.retryAt = now.Add(FallbackProbe)
	}
	f.mu.Unlock()
	if try {
		sctx := ctx
		if probing {
			var cancel context.CancelFunc
			sctx, cancel = context.WithTimeout(ctx, ProbeTimeout)
			defer cancel()
		}
		began := time.Now()
		d, err := f.shared.Hit(sctx, key, l, now)
		if err == nil {
			f.setDown(false, now, nil)
			return d, nil
		}
		if ctx.Err() != nil {
			return d, err // the caller gave up; says nothing about the shared store
		}
		// The next try is a probe interval after this one failed (a dead
		// server can take a while to say so), not after it began.
		f.setDown(true, now.Add(time.Since(began)), err)
	}
	return f.local.Hit(ctx, key, l, now)
}

// setDown records the shared limiter's state and logs each change once.
func (f *Fallback) setDown(down bool, now time.Time, cause error) {
	f.mu.Lock()
	changed := f.down != down
	f.down = down
	if down {
		f.retryAt = now.Add(FallbackProbe)
	}
	f.mu.Unlock()
	switch {
	case changed && down:
		f.log.Warn("shared rate-limit store unreachable: falling back to per-instance limits", "error", cause)
	case changed:
		f.log.Info("shared rate-limit store reachable again: limits are shared across replicas")
	}
}
