package ratelimit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// switchable is a shared limiter that can be made unreachable.
type switchable struct {
	mu    sync.Mutex
	down  bool
	calls int
	inner *Memory
}

func (s *switchable) Hit(ctx context.Context, key string, l mobileauth.RateLimit, now time.Time) (mobileauth.RateDecision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.down {
		return mobileauth.RateDecision{}, errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	}
	return s.inner.Hit(ctx, key, l, now)
}

func TestFallbackKeepsLimitingWhileTheSharedStoreIsDown(t *testing.T) {
	var logs bytes.Buffer
	shared := &switchable{inner: NewMemory()}
	f := NewFallback(shared, NewMemory(), slog.New(slog.NewTextHandler(&logs, nil)))
	l := mobileauth.RateLimit{Limit: 3, Window: time.Minute}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	allowed := func(key string, n int) int {
		got := 0
		for range n {
			d, err := f.Hit(t.Context(), key, l, now)
			require.NoError(t, err, "a shared-store outage never fails a request")
			if d.Allowed {
				got++
			}
		}
		return got
	}

	assert.Equal(t, 3, allowed("a", 5), "shared limits while up")
	shared.down = true
	assert.Equal(t, 3, allowed("b", 5), "per-instance limits while down")
	assert.Equal(t, 1, shared.calls-5, "one failed try, then none within the probe interval")
	assert.Equal(t, 1, strings.Count(logs.String(), "falling back to per-instance limits"), "logged once")

	shared.down = false
	now = now.Add(FallbackProbe + time.Second)
	before := shared.calls
	assert.Equal(t, 3, allowed("c", 5), "shared again after the probe interval")
	assert.Equal(t, 5, shared.calls-before, "counted in the shared store")
	assert.Equal(t, 1, strings.Count(logs.String(), "limits are shared across replicas"), "the return is logged once")
}
