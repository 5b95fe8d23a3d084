package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// minPruneSize is the map size below which Memory never sweeps: small maps
// cost little, and sweeping them on every hit would be wasted work.
const minPruneSize = 1024

// Memory is an in-process RateLimiter. It is exact under concurrency (one
// mutex guards every decision) and its memory stays bounded by the number of
// keys that are live (inside a window or a block): stale keys are swept when
// the map has doubled since the last sweep, which keeps the cost of sweeping
// amortised O(1) per hit however many distinct keys arrive.
//
// Time is the now passed to Hit, so tests drive it with a fake clock.
// The zero value is ready to use; NewMemory exists for symmetry with NewRedis.
type Memory struct {
	mu        sync.Mutex
	entries   map[string]memEntry
	nextPrune int // sweep when len(entries) reaches this
}

// memEntry is one key's state. The zero value means "no window, no block".
type memEntry struct {
	windowEnd    time.Time // end of the current window; zero = none
	count        int       // hits counted in the current window
	blockedUntil time.Time // zero = not blocked
}

// NewMemory returns an empty in-process limiter.
func NewMemory() *Memory {
	return &Memory{entries: make(map[string]memEntry), nextPrune: minPruneSize}
}

// Hit counts one hit on key at now and says whether it is allowed.
func (m *Memory) Hit(_ context.Context, key string, l mobileauth.RateLimit, now time.Time) (mobileauth.RateDecision, error) {
	if err := validate(l); err != nil {
		return mobileauth.RateDecision{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = make(map[string]memEntry)
	}
	m.maybePrune(now)

	e := m.entries[key]
	if now.Before(e.blockedUntil) {
		// Hits during a block are not counted: the block alone decides.
		return mobileauth.RateDecision{RetryAfter: e.blockedUntil.Sub(now)}, nil
	}
	if !now.Before(e.windowEnd) {
		e = memEntry{windowEnd: now.Add(l.Window)}
	}
	e.count++
	switch {
	case e.count <= l.Limit:
		m.entries[key] = e
		return allowed(), nil
	case l.Block > 0:
		// Discard the window so that a fresh one starts after the block,
		// as the Redis script does by deleting its counter.
		m.entries[key] = memEntry{blockedUntil: now.Add(l.Block)}
		return mobileauth.RateDecision{RetryAfter: l.Block}, nil
	default:
		m.entries[key] = e
		return mobileauth.RateDecision{RetryAfter: e.windowEnd.Sub(now)}, nil
	}
}

// maybePrune drops keys whose window and block have both ended, once the map
// has grown to nextPrune. Callers hold m.mu.
func (m *Memory) maybePrune(now time.Time) {
	if len(m.entries) < max(m.nextPrune, minPruneSize) {
		return
	}
	for k, e := range m.entries {
		if !now.Before(e.windowEnd) && !now.Before(e.blockedUntil) {
			delete(m.entries, k)
		}
	}
	// Next sweep once the live set has doubled: each sweep of n entries is
	// paid for by at least n/2 new keys since the previous one.
	m.nextPrune = max(minPruneSize, 2*len(m.entries))
}

// Len reports how many keys Memory currently holds (live or not yet swept).
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
