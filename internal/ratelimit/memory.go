package ratelimit

import (
	"context"
	"hash/maphash"
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
	mu sync.Mutex
	// entries are keyed by a seeded 64-bit hash of the key, with times as
	// Unix nanoseconds: about 40 bytes a key instead of ~150, which matters
	// with tens of thousands of phones (each has IP and user keys). A hash
	// collision (about 1 in 10^8 at a million keys) only merges two
	// counters, i.e. errs on the strict side; the seed is random, so
	// collisions cannot be aimed.
	entries   map[uint64]memEntry
	seed      maphash.Seed
	nextPrune int // sweep when len(entries) reaches this
}

// memEntry is one key's state. The zero value means "no window, no block".
type memEntry struct {
	windowEnd    int64 // end of the current window (Unix ns); 0 = none
	blockedUntil int64 // Unix ns; 0 = not blocked
	count        int32 // hits counted in the current window
}

// NewMemory returns an empty in-process limiter.
func NewMemory() *Memory {
	return &Memory{entries: make(map[uint64]memEntry), seed: maphash.MakeSeed(), nextPrune: minPruneSize}
}

// Hit counts one hit on key at now and says whether it is allowed.
func (m *Memory) Hit(_ context.Context, key string, l mobileauth.RateLimit, now time.Time) (mobileauth.RateDecision, error) {
	if err := validate(l); err != nil {
		return mobileauth.RateDecision{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = make(map[uint64]memEntry)
		m.seed = maphash.MakeSeed()
	}
	t := now.UnixNano()
	m.maybePrune(t)

	h := maphash.String(m.seed, key)
	e := m.entries[h]
	if t < e.blockedUntil {
		// Hits during a block are not counted: the block alone decides.
		return mobileauth.RateDecision{RetryAfter: time.Duration(e.blockedUntil - t)}, nil
	}
	if t >= e.windowEnd {
		e = memEntry{windowEnd: t + int64(l.Window)}
	}
	e.count++
	switch {
	case int(e.count) <= l.Limit:
		m.entries[h] = e
		return allowed(), nil
	case l.Block > 0:
		// Discard the window so that a fresh one starts after the block,
		// as the Redis script does by deleting its counter.
		m.entries[h] = memEntry{blockedUntil: t + int64(l.Block)}
		return mobileauth.RateDecision{RetryAfter: l.Block}, nil
	default:
		m.entries[h] = e
		return mobileauth.RateDecision{RetryAfter: time.Duration(e.windowEnd - t)}, nil
	}
}

// maybePrune drops keys whose window and block have both ended, once the map
// has grown to nextPrune. Callers hold m.mu.
func (m *Memory) maybePrune(now int64) {
	if len(m.entries) < max(m.nextPrune, minPruneSize) {
		return
	}
	for k, e := range m.entries {
		if now >= e.windowEnd && now >= e.blockedUntil {
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
