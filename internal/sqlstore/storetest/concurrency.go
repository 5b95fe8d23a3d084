package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// Racers is how many goroutines each concurrency test sets loose on one
// record; the store's guarantees must hold exactly, not statistically.
const Racers = 200

// race runs fn Racers times at once, released together.
func race(fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range Racers {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

func testConcurrency(t *testing.T, open Opener) {
	t.Run("one OTT is consumed exactly once", func(t *testing.T) {
		ctx := t.Context()
		s := open(t)
		require.NoError(t, s.CreateOTT(ctx, newOTT("hot")))
		var won, lost atomic.Int64
		var unexpected atomic.Value
		race(func(int) {
			_, err := s.ConsumeOTT(ctx, hash("hot"), at(time.Second))
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, mobileauth.ErrNotFound):
				lost.Add(1)
			default:
				unexpected.Store(err)
			}
		})
		require.Nil(t, unexpected.Load(), "only ErrNotFound may fail a consumption")
		assert.Equal(t, int64(1), won.Load(), "successes among %d", Racers)
		assert.Equal(t, int64(Racers-1), lost.Load())
		t.Logf("%d concurrent consumptions: %d success", Racers, won.Load())
	})
	t.Run("one refresh token rotates to exactly one successor", func(t *testing.T) {
		ctx := t.Context()
		s := open(t)
		seedFamily(t, s, "fam", "sid", "hot")
		results := make([]mobileauth.RotateResult, Racers)
		errs := make([]error, Racers)
		race(func(i int) {
			results[i], errs[i] = s.RotateRefreshToken(ctx, hash("hot"),
				hash(fmt.Sprintf("succ-%d", i)), at(time.Second).Add(refreshTTL), at(time.Second))
		})
		winner := -1
		for i := range Racers {
			require.NoError(t, errs[i], "racer %d", i)
			if results[i].Outcome == mobileauth.Rotated {
				require.Equal(t, -1, winner, "two racers rotated: %d and %d", winner, i)
				winner = i
			}
		}
		require.NotEqual(t, -1, winner, "nobody rotated")
		want := hashPtr(fmt.Sprintf("succ-%d", winner))
		for i := range Racers {
			if i == winner {
				continue
			}
			assert.Equal(t, mobileauth.AlreadyRotated, results[i].Outcome, "racer %d", i)
			assert.Equal(t, want, results[i].Current.ReplacedBy, "racer %d sees the winner's successor", i)
			assert.False(t, results[i].SuccessorUsed, "racer %d", i)
		}
		assert.Equal(t, 2, countRows(t, s, "refresh_tokens"), "the token and one successor")
		t.Logf("%d concurrent rotations: 1 rotated, %d already rotated, 1 successor row", Racers, Racers-1)
	})
	t.Run("a rate limit admits exactly its limit", func(t *testing.T) {
		ctx := t.Context()
		s := open(t)
		l := mobileauth.RateLimit{Limit: 10, Window: time.Minute, Block: 5 * time.Minute}
		var ok, refused atomic.Int64
		var unexpected atomic.Value
		race(func(i int) {
			// Spread over a few milliseconds, as real traffic is.
			d, err := s.Hit(ctx, "ip:198.51.100.7", l, at(time.Duration(i%5)*time.Millisecond))
			switch {
			case err != nil:
				unexpected.Store(err)
			case d.Allowed:
				ok.Add(1)
			default:
				refused.Add(1)
			}
		})
		require.Nil(t, unexpected.Load())
		assert.Equal(t, int64(10), ok.Load(), "admitted among %d", Racers)
		assert.Equal(t, int64(Racers-10), refused.Load())
		t.Logf("%d concurrent hits on a limit of 10: %d admitted", Racers, ok.Load())
	})
}
