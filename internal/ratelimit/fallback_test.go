package ratelimit

import (
	"bytes"
	"context"
	"errors"
	"io"
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

// hanging is a shared limiter whose server never answers: each hit waits
// for its context.
type hanging struct {
	mu    sync.Mutex
	calls int
}

func (h *hanging) Hit(ctx context.Context, _ string, _ mobileauth.RateLimit, _ time.Time) (mobileauth.RateDecision, error) {
	h.mu.Lock()
	h.calls++
	h.mu.Unlock()
	<-ctx.Done()
	return mobileauth.RateDecision{}, ctx.Err()
}

func TestFallbackProbesOnceAndBriefly(t *testing.T) {
	h := &hanging{}
	f := NewFallback(h, NewMemory(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	l := mobileauth.RateLimit{Limit: 1000, Window: time.Minute}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.setDown(true, now, errors.New("connection refused"))

	// Past the probe interval, 20 concurrent requests: one probes, bounded by
	// ProbeTimeout; the rest answer from the local limiter at once.
	now = now.Add(FallbackProbe)
	var wg sync.WaitGroup
	durs := make([]time.Duration, 20)
	for i := range durs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			began := time.Now()
			d, err := f.Hit(t.Context(), "k", l, now)
			durs[i] = time.Since(began)
			assert.NoError(t, err)
			assert.True(t, d.Allowed)
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, h.calls, "one probe per interval, not one per request")
	slow := 0
	for _, d := range durs {
		if d >= ProbeTimeout/2 {
			slow++
			assert.Less(t, d, ProbeTimeout+time.Second, "the probe is cut off at ProbeTimeout")
		}
	}
	assert.Equal(t, 1, slow, "only the probing request waits")
}
