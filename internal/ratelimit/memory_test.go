package ratelimit

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// memoryHarness drives a fresh Memory with a fake clock.
func memoryHarness(t *testing.T) harness {
	t.Helper()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return harness{
		replicas: []mobileauth.RateLimiter{NewMemory()},
		now:      func() time.Time { return now },
		wait:     func(d time.Duration) { now = now.Add(d) },
	}
}

func TestMemory(t *testing.T) {
	runSuite(t, memoryHarness)
}

func TestMemoryStaysBoundedUnderManyDistinctKeys(t *testing.T) {
	m := NewMemory()
	l := mobileauth.RateLimit{Limit: 5, Window: time.Second, Block: time.Minute}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	peak := 0
	for i := range 200_000 {
		if i%500 == 0 {
			now = now.Add(time.Second) // every earlier window has ended
		}
		_, err := m.Hit(context.Background(), "ip:"+strconv.Itoa(i), l, now)
		require.NoError(t, err)
		peak = max(peak, m.Len())
	}
	// At most ~500 keys are live at once; sweeping keeps the map near the
	// sweep threshold instead of growing to 200,000.
	assert.LessOrEqual(t, peak, 2*minPruneSize)
}

func TestMemorySweepKeepsBlockedKeys(t *testing.T) {
	m := NewMemory()
	ctx := context.Background()
	l := mobileauth.RateLimit{Limit: 1, Window: time.Second, Block: time.Hour}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 2 {
		_, err := m.Hit(ctx, "victim", l, now)
		require.NoError(t, err)
	}
	// Flood with stale keys long after the victim's window, forcing sweeps.
	for i := range 5 * minPruneSize {
		_, err := m.Hit(ctx, "flood:"+strconv.Itoa(i), l, now.Add(time.Minute+time.Duration(i)*100*time.Millisecond))
		require.NoError(t, err)
	}
	later := now.Add(30 * time.Minute)
	d, err := m.Hit(ctx, "victim", l, later)
	require.NoError(t, err)
	assert.False(t, d.Allowed)
	assert.Equal(t, 30*time.Minute, d.RetryAfter)
}

func TestMemoryZeroValueWorks(t *testing.T) {
	var m Memory
	d, err := m.Hit(context.Background(), "k", mobileauth.RateLimit{Limit: 1, Window: time.Second}, time.Now())
	require.NoError(t, err)
	assert.True(t, d.Allowed)
}
