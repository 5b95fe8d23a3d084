package ratelimit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// harness is one limiter under test with its notion of time. The behavioural
// suite below runs against every implementation through it.
type harness struct {
	// replicas share one state: a single Memory, or Redis limiters on
	// separate clients standing in for separate service replicas.
	replicas []mobileauth.RateLimiter
	now      func() time.Time
	// wait lets at least d pass: a fake clock advances exactly; Redis really
	// sleeps, since its TTLs run on the server's clock.
	wait func(d time.Duration)
	// tol absorbs Redis's millisecond rounding (0 = exact).
	tol time.Duration
}

// timedHit is a decision with the times just before and after it was asked
// for; the limiter decided at some instant in between.
type timedHit struct {
	mobileauth.RateDecision
	sent, done time.Time
}

func (h harness) hit(t *testing.T, key string, l mobileauth.RateLimit) timedHit {
	t.Helper()
	sent := h.now()
	d, err := h.replicas[0].Hit(context.Background(), key, l, sent)
	require.NoError(t, err)
	return timedHit{RateDecision: d, sent: sent, done: h.now()}
}

// assertCountdown checks that hit was denied with a RetryAfter equal to span
// minus the time elapsed since from, the hit that started the span (a
// window's first hit or the blocking hit). With real time the elapsed time is
// only known to lie between two bounds, so the check is a range; with a fake
// clock the range is a single point.
func (h harness) assertCountdown(t *testing.T, hit, from timedHit, span time.Duration) {
	t.Helper()
	assert.False(t, hit.Allowed, "hit should be denied")
	lo := span - hit.done.Sub(from.sent) - h.tol
	hi := span - hit.sent.Sub(from.done) + h.tol
	assert.GreaterOrEqual(t, hit.RetryAfter, lo)
	assert.LessOrEqual(t, hit.RetryAfter, hi)
}

// runSuite is the behaviour every RateLimiter must show. Redis runs it in
// real time, so every wait is short and every "still denied" check has
// seconds of margin against a slow, loaded machine.
func runSuite(t *testing.T, newHarness func(t *testing.T) harness) {
	specLimit := mobileauth.RateLimit{Limit: 10, Window: time.Minute, Block: 5 * time.Minute}

	t.Run("allows the limit then blocks for the block duration", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		for i := range specLimit.Limit {
			assert.True(t, h.hit(t, "k", specLimit).Allowed, "hit %d", i+1)
		}
		d := h.hit(t, "k", specLimit)
		assert.False(t, d.Allowed)
		assert.Equal(t, specLimit.Block, d.RetryAfter)
	})

	t.Run("denies every hit while blocked with a shrinking retry-after", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		l := mobileauth.RateLimit{Limit: 1, Window: time.Minute, Block: 5 * time.Second}
		require.True(t, h.hit(t, "k", l).Allowed)
		blocking := h.hit(t, "k", l)
		require.False(t, blocking.Allowed)
		for range 3 {
			h.wait(200 * time.Millisecond)
			h.assertCountdown(t, h.hit(t, "k", l), blocking, l.Block)
		}
	})

	t.Run("starts a fresh window when the block ends", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		l := mobileauth.RateLimit{Limit: 2, Window: time.Minute, Block: 300 * time.Millisecond}
		require.True(t, h.hit(t, "k", l).Allowed)
		require.True(t, h.hit(t, "k", l).Allowed)
		blocking := h.hit(t, "k", l)
		require.False(t, blocking.Allowed)
		h.wait(blocking.RetryAfter)
		assert.True(t, h.hit(t, "k", l).Allowed, "first hit after the block")
		assert.True(t, h.hit(t, "k", l).Allowed, "second hit after the block")
		d := h.hit(t, "k", l)
		assert.False(t, d.Allowed)
		assert.Equal(t, l.Block, d.RetryAfter)
	})

	t.Run("resets the count when the window ends", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		l := mobileauth.RateLimit{Limit: 2, Window: 500 * time.Millisecond, Block: time.Minute}
		require.True(t, h.hit(t, "k", l).Allowed)
		require.True(t, h.hit(t, "k", l).Allowed)
		h.wait(l.Window)
		assert.True(t, h.hit(t, "k", l).Allowed)
		assert.True(t, h.hit(t, "k", l).Allowed)
		d := h.hit(t, "k", l)
		assert.False(t, d.Allowed)
		assert.Equal(t, l.Block, d.RetryAfter)
	})

	t.Run("without a block denies until the window ends", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		l := mobileauth.RateLimit{Limit: 1, Window: 1500 * time.Millisecond}
		first := h.hit(t, "k", l)
		require.True(t, first.Allowed)
		h.assertCountdown(t, h.hit(t, "k", l), first, l.Window)
		h.wait(200 * time.Millisecond)
		last := h.hit(t, "k", l)
		h.assertCountdown(t, last, first, l.Window)
		h.wait(last.RetryAfter)
		assert.True(t, h.hit(t, "k", l).Allowed)
	})

	t.Run("keeps keys independent", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		l := mobileauth.RateLimit{Limit: 1, Window: time.Minute, Block: time.Minute}
		keys := []string{"exchange:ip:192.0.2.1", "exchange:ip:192.0.2.2", "refresh:t1:u1", "", "a{b}", "~x"}
		for _, k := range keys {
			assert.True(t, h.hit(t, k, l).Allowed, "first hit on %q", k)
		}
		for _, k := range keys {
			assert.False(t, h.hit(t, k, l).Allowed, "second hit on %q", k)
		}
	})

	t.Run("allows exactly the limit among 200 concurrent hits", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		const hits = 200
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			results = make([]mobileauth.RateDecision, hits)
			errs    = make([]error, hits)
		)
		for i := range hits {
			wg.Go(func() {
				<-start
				lim := h.replicas[i%len(h.replicas)]
				results[i], errs[i] = lim.Hit(context.Background(), "k", specLimit, h.now())
			})
		}
		close(start)
		wg.Wait()
		allowedHits := 0
		for i := range hits {
			require.NoError(t, errs[i])
			if results[i].Allowed {
				allowedHits++
			} else {
				assert.Positive(t, results[i].RetryAfter)
			}
		}
		assert.Equal(t, specLimit.Limit, allowedHits)
	})

	t.Run("rejects limits it cannot enforce", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		for _, l := range []mobileauth.RateLimit{
			{Limit: 0, Window: time.Minute},
			{Limit: -1, Window: time.Minute},
			{Limit: 1, Window: 0},
			{Limit: 1, Window: time.Minute, Block: -time.Second},
		} {
			_, err := h.replicas[0].Hit(context.Background(), "k", l, h.now())
			assert.ErrorIs(t, err, ErrInvalidLimit, "%+v", l)
		}
	})
}
