package authflow_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/ratelimit"
)

// outage is a store outage as the exchange meets it, switched on and off
// by the test: the per-user limit (after the consume) and the OTT give-back
// fail to connect, and the consume can commit and lose its reply.
type outage struct {
	down      atomic.Bool // the limiter's per-user check and ReleaseOTT fail
	lostReply atomic.Bool // the next ConsumeOTT commits, then fails as a dropped connection
	refused   atomic.Bool // the next ConsumeOTT fails before reaching the store
}

var errDropped = fmt.Errorf("read from PostgreSQL: %w", syscall.ECONNRESET)

type outageLimiter struct {
	o     *outage
	inner mobileauth.RateLimiter
}

func (l outageLimiter) Hit(ctx context.Context, key string, lim mobileauth.RateLimit, now time.Time) (mobileauth.RateDecision, error) {
	if l.o.down.Load() && strings.HasPrefix(key, "exchange-user:") {
		return mobileauth.RateDecision{}, fmt.Errorf("dial redis: %w", syscall.ECONNREFUSED)
	}
	return l.inner.Hit(ctx, key, lim, now)
}

type outageOTTs struct {
	mobileauth.OTTStore
	o *outage
}

func (s outageOTTs) ConsumeOTT(ctx context.Context, hash mobileauth.Hash, now time.Time) (mobileauth.ConsumedOTT, error) {
	if s.o.refused.CompareAndSwap(true, false) {
		return mobileauth.ConsumedOTT{}, fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
	}
	c, err := s.OTTStore.ConsumeOTT(ctx, hash, now)
	if err == nil && s.o.lostReply.CompareAndSwap(true, false) {
		return mobileauth.ConsumedOTT{}, errDropped
	}
	return c, err
}

func (s outageOTTs) ReleaseOTT(ctx context.Context, hash mobileauth.Hash, consumedAt time.Time) error {
	if s.o.down.Load() {
		return fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
	}
	return s.OTTStore.ReleaseOTT(ctx, hash, consumedAt)
}

// assertAnswers503 checks that err is one the HTTP layer answers 503
// SERVICE_UNAVAILABLE: coded so, or a dependency's own error.
func assertAnswers503(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	if mobileauth.ErrorCode(err) != mobileauth.CodeServiceUnavailable {
		require.True(t, mobileauth.Unavailable(err), "want a 503, got %v", err)
	}
}

// withOutage wires o into a fixture's limiter and OTT store.
func withOutage(o *outage) []option {
	return []option{
		withLimiter(outageLimiter{o: o, inner: ratelimit.NewMemory()}),
		withOTTs(func(st mobileauth.OTTStore) mobileauth.OTTStore { return outageOTTs{OTTStore: st, o: o} }),
	}
}

// TestExchangeRetryAfterAnOutageFindsTheOTT: a 503 from /exchange promises
// that the same OTT works again. When the store went away, the failed
// exchange could not give its OTT back (or never learnt that its consume
// committed); the retry on the same replica gives it back, then exchanges
// it, exactly once.
func TestExchangeRetryAfterAnOutageFindsTheOTT(t *testing.T) {
	cases := []struct {
		name string
		fail func(*outage)
		// consumed is whether the failed attempt left the OTT consumed in
		// the store.
		consumed bool
	}{
		{"the give-back failed with the store", func(o *outage) { o.down.Store(true) }, true},
		{"the consume committed and its reply was lost", func(o *outage) { o.lostReply.Store(true) }, true},
		{"the consume never reached the store", func(o *outage) { o.refused.Store(true) }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, o, ott := outageFixture(t)
			tc.fail(o)
			_, err := f.svc.Exchange(f.ctx, exchangeReq(ott, "s", "192.0.2.1"))
			assertAnswers503(t, err)
			o.down.Store(false)
			consumed := f.count("SELECT COUNT(*) FROM one_time_tokens WHERE consumed_at IS NOT NULL")
			assert.Equal(t, tc.consumed, consumed == 1, "consumed after the failed attempt")
			assert.Zero(t, f.count("SELECT COUNT(*) FROM token_families"))

			res, err := f.svc.Exchange(f.ctx, exchangeReq(ott, "s", "192.0.2.1"))
			require.NoError(t, err, "the retry finds the OTT")
			assert.NotEmpty(t, res.RefreshToken)
			assert.Equal(t, 0, f.svc.UnreleasedForTest())
			_, err = f.svc.Exchange(f.ctx, exchangeReq(ott, "s", "192.0.2.1"))
			assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)
			assert.Equal(t, 1, f.count("SELECT COUNT(*) FROM token_families"))
		})
	}
}

// TestExchangeRetryDuringTheOutageKeepsTheFirstStamp: the first attempt's
// consume commits and loses its reply; a retry while the store is still
// down cannot give it back and fails to consume. The OTT must still be
// given back by the first attempt's stamp once the store returns.
func TestExchangeRetryDuringTheOutageKeepsTheFirstStamp(t *testing.T) {
	f, o, ott := outageFixture(t)
	o.lostReply.Store(true)
	_, err := f.svc.Exchange(f.ctx, exchangeReq(ott, "s", "192.0.2.1"))
	assertAnswers503(t, err)
	f.clock.Advance(time.Second)
	o.down.Store(true)
	o.refused.Store(true)
	_, err = f.svc.Exchange(f.ctx, exchangeReq(ott, "s", "192.0.2.1"))
	assertAnswers503(t, err)
	o.down.Store(false)

	f.clock.Advance(time.Second)
	res, err := f.svc.Exchange(f.ctx, exchangeReq(ott, "s", "192.0.2.1"))
	require.NoError(t, err, "the retry after the outage finds the OTT")
	assert.NotEmpty(t, res.RefreshToken)
}

// outageFixture is a fixture wired to a switchable outage, with an OTT
// issued to alice.
func outageFixture(t *testing.T) (*fixture, *outage, string) {
	t.Helper()
	o := &outage{}
	f := newFixture(t, withOutage(o)...)
	f.addUsers(alice)
	ott, _ := f.issueOTT(alice.Email, "s", "")
	return f, o, ott
}

// failedExchange issues alice an OTT and exchanges it while the store is
// down so that the OTT cannot be given back; whileDown runs before the
// store comes back.
func failedExchange(t *testing.T, whileDown func(*fixture)) (*fixture, string) {
	t.Helper()
	f, o, ott := outageFixture(t)
	o.down.Store(true)
	_, err := f.svc.Exchange(f.ctx, exchangeReq(ott, "s", "192.0.2.1"))
	assertAnswers503(t, err)
	if whileDown != nil {
		whileDown(f)
	}
	o.down.Store(false)
	return f, ott
}

// TestExchangeRetriesOfAnUnreleasedOTTSucceedOnce: many retries at once
// of an OTT waiting to be given back: one gets tokens, the others 401.
func TestExchangeRetriesOfAnUnreleasedOTTSucceedOnce(t *testing.T) {
	f, ott := failedExchange(t, nil)

	out := newOutcomes()
	race(20, func(i int) {
		res, err := f.svc.Exchange(f.ctx, exchangeReq(ott, "s", fmt.Sprintf("198.51.100.%d", i+1)))
		out.add(res.RefreshToken, err)
	})
	assert.Equal(t, 1, out.ok, "errors: %v", out.errs)
	assert.Equal(t, 19, out.byCode[mobileauth.CodeUnauthorized])
	assert.Equal(t, 1, f.count("SELECT COUNT(*) FROM token_families"))
}

// TestExchangeRetryOnAnotherReplicaAfterTheGiveBack: a retry that lands on
// another replica finds the OTT once the replica that could not give it
// back has done so (GiveBackWaiting, which serve runs every second); while
// the store is still down, the OTT keeps waiting.
func TestExchangeRetryOnAnotherReplicaAfterTheGiveBack(t *testing.T) {
	a, ott := failedExchange(t, func(a *fixture) {
		a.svc.GiveBackWaiting(a.ctx)
		assert.Equal(t, 1, a.svc.UnreleasedForTest(), "the store is still down: the OTT keeps waiting")
	})
	b := newFixture(t, sharing(a))
	a.svc.GiveBackWaiting(a.ctx)
	assert.Equal(t, 0, a.svc.UnreleasedForTest())
	assert.Equal(t, 1, a.events.count("ott_released"))

	res, err := b.svc.Exchange(b.ctx, exchangeReq(ott, "s", "192.0.2.1"))
	require.NoError(t, err, "the retry on the other replica finds the OTT")
	assert.NotEmpty(t, res.RefreshToken)
	_, err = a.svc.Exchange(a.ctx, exchangeReq(ott, "s", "192.0.2.1"))
	assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)
}

// TestExchangeUnreleasedOTTExpires: a retry after the OTT's lifetime is
// refused as any expired OTT, and nothing is left waiting.
func TestExchangeUnreleasedOTTExpires(t *testing.T) {
	f, ott := failedExchange(t, nil)
	require.Equal(t, 1, f.svc.UnreleasedForTest())

	f.clock.Advance(ottTTL + time.Second)
	_, err := f.svc.Exchange(f.ctx, exchangeReq(ott, "s", "192.0.2.1"))
	assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)
	assert.Equal(t, 0, f.svc.UnreleasedForTest())
	assert.Zero(t, f.count("SELECT COUNT(*) FROM token_families"))
}

// TestUnreleasedIsBounded: a long outage cannot grow the set without
// bound; expired entries make room, live ones are kept.
func TestUnreleasedIsBounded(t *testing.T) {
	until := t0.Add(time.Minute)
	cases := []struct {
		name      string
		now       time.Time
		wantAdded bool
		wantHeld  int
	}{
		{"full of live entries: the new one is not kept", until.Add(-time.Second), false, 10000},
		{"full of expired entries: they make room", until, true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			added, held := authflow.UnreleasedBoundForTest(until, tc.now)
			assert.Equal(t, tc.wantAdded, added)
			assert.Equal(t, tc.wantHeld, held)
		})
	}
}
