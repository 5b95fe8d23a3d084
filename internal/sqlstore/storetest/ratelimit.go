package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
)

// perMinute is the SPEC's usual limit shape, smaller: 3/min, 5-minute block.
var perMinute = mobileauth.RateLimit{Limit: 3, Window: time.Minute, Block: 5 * time.Minute}

// hits runs one hit per offset from t0 and returns the decisions.
func hits(t *testing.T, s *sqlstore.Store, key string, l mobileauth.RateLimit, offsets ...time.Duration) []mobileauth.RateDecision {
	t.Helper()
	out := make([]mobileauth.RateDecision, 0, len(offsets))
	for _, off := range offsets {
		d, err := s.Hit(t.Context(), key, l, at(off))
		require.NoError(t, err)
		out = append(out, d)
	}
	return out
}

var allowed = mobileauth.RateDecision{Allowed: true}

func denied(retry time.Duration) mobileauth.RateDecision {
	return mobileauth.RateDecision{RetryAfter: retry}
}

func testRateLimit(t *testing.T, open Opener) {
	t.Run("allows the limit, then blocks", func(t *testing.T) {
		s := open(t)
		got := hits(t, s, "ip:192.0.2.1", perMinute, 0, time.Second, 2*time.Second, 3*time.Second, 4*time.Second)
		assert.Equal(t, []mobileauth.RateDecision{
			allowed, allowed, allowed, denied(5 * time.Minute), denied(5*time.Minute - time.Second),
		}, got)
	})
	t.Run("a block outlasts the window and ends with a fresh window", func(t *testing.T) {
		s := open(t)
		hits(t, s, "k", perMinute, 0, 0, 0, 0) // fourth hit blocks until 5m
		got := hits(t, s, "k", perMinute, 2*time.Minute, 5*time.Minute-time.Millisecond,
			5*time.Minute, 5*time.Minute+time.Second, 5*time.Minute+2*time.Second, 5*time.Minute+3*time.Second)
		assert.Equal(t, []mobileauth.RateDecision{
			denied(3 * time.Minute), denied(time.Millisecond),
			allowed, allowed, allowed, denied(5 * time.Minute),
		}, got)
	})
	t.Run("a window's end resets the count", func(t *testing.T) {
		s := open(t)
		got := hits(t, s, "k", perMinute, 0, 10*time.Second, 59*time.Second, time.Minute, time.Minute+time.Second,
			time.Minute+2*time.Second, time.Minute+3*time.Second)
		assert.Equal(t, []mobileauth.RateDecision{
			allowed, allowed, allowed, allowed, allowed, allowed, denied(5 * time.Minute),
		}, got)
	})
	t.Run("keys are independent", func(t *testing.T) {
		s := open(t)
		hits(t, s, "a", perMinute, 0, 0, 0, 0)
		assert.Equal(t, []mobileauth.RateDecision{allowed}, hits(t, s, "b", perMinute, 0))
	})
	t.Run("without a block, refuses until the window ends", func(t *testing.T) {
		s := open(t)
		l := mobileauth.RateLimit{Limit: 2, Window: time.Minute}
		got := hits(t, s, "k", l, 0, time.Second, 20*time.Second, 30*time.Second, time.Minute)
		assert.Equal(t, []mobileauth.RateDecision{
			allowed, allowed, denied(40 * time.Second), denied(30 * time.Second), allowed,
		}, got)
	})
	t.Run("a zero limit refuses everything", func(t *testing.T) {
		s := open(t)
		l := mobileauth.RateLimit{Limit: 0, Window: time.Minute, Block: 5 * time.Minute}
		assert.Equal(t, []mobileauth.RateDecision{denied(5 * time.Minute), denied(4 * time.Minute)},
			hits(t, s, "k", l, 0, time.Minute))
	})
	t.Run("rejects a nonsensical limit", func(t *testing.T) {
		s := open(t)
		for _, l := range []mobileauth.RateLimit{
			{Limit: 1}, {Limit: -1, Window: time.Minute}, {Limit: 1, Window: time.Minute, Block: -time.Second},
		} {
			_, err := s.Hit(t.Context(), "k", l, t0)
			assert.Error(t, err, "%+v", l)
		}
	})
}
