package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// rateHitQuery counts one hit in a single upsert, so it is exact however
// many replicas hit the same key at once: the row lock (PostgreSQL) or the
// single writer (SQLite) serialises the read-modify-write. SET expressions
// read the row as it was before the update. Three cases, in this order:
//   - still blocked (blocked_until > now): nothing changes;
//   - block over, or window over (window_start <= now - window): a new
//     window starts with this hit;
//   - otherwise the count grows, and passing the limit starts a block.
//
// Parameters: $1 key, $2 now, $3 now-window, $4 limit, $5 blocked_until of
// a window's first hit (NULL unless limit < 1), $6 expires_at of a new
// window, $7 end of a block (NULL when the limit has no block).
const rateHitQuery = `INSERT INTO rate_limits (rate_key, window_start, count, blocked_until, expires_at)
VALUES ($1, $2, 1, $5, $6)
ON CONFLICT (rate_key) DO UPDATE SET
  window_start = CASE
    WHEN rate_limits.blocked_until > $2 THEN rate_limits.window_start
    WHEN rate_limits.blocked_until IS NOT NULL OR rate_limits.window_start <= $3 THEN $2
    ELSE rate_limits.window_start END,
  count = CASE
    WHEN rate_limits.blocked_until > $2 THEN rate_limits.count
    WHEN rate_limits.blocked_until IS NOT NULL OR rate_limits.window_start <= $3 THEN 1
    ELSE rate_limits.count + 1 END,
  blocked_until = CASE
    WHEN rate_limits.blocked_until > $2 THEN rate_limits.blocked_until
    WHEN rate_limits.blocked_until IS NOT NULL OR rate_limits.window_start <= $3 THEN $5
    WHEN rate_limits.count + 1 > $4 THEN $7
    ELSE NULL END,
  expires_at = CASE
    WHEN rate_limits.blocked_until > $2 THEN rate_limits.expires_at
    WHEN rate_limits.blocked_until IS NOT NULL OR rate_limits.window_start <= $3 THEN $6
    WHEN rate_limits.count + 1 > $4 THEN COALESCE($7, rate_limits.expires_at)
    ELSE rate_limits.expires_at END
RETURNING count, window_start, blocked_until`

// Hit counts one hit on key under the fixed-window limit l: at most l.Limit
// hits per l.Window; the hit that exceeds it blocks the key for l.Block
// (hits during a block are refused and not counted). With l.Block = 0 the
// excess hits are refused until the window ends. Shared by every replica
// using the same database.
func (s *Store) Hit(ctx context.Context, key string, l mobileauth.RateLimit, now time.Time) (mobileauth.RateDecision, error) {
	defer s.track("Hit", time.Now())
	if l.Window <= 0 || l.Limit < 0 || l.Block < 0 {
		return mobileauth.RateDecision{}, errors.New("rate limit: window must be positive, limit and block not negative")
	}
	now = truncMS(now) // what the database compares against
	var blockEnd, firstBlock any
	if l.Block > 0 {
		blockEnd = s.ts(now.Add(l.Block))
	}
	windowEnd := now.Add(l.Window)
	firstExpiry := windowEnd
	if l.Limit < 1 && l.Block > 0 {
		firstBlock = blockEnd
		firstExpiry = later(windowEnd, now.Add(l.Block))
	}
	var (
		count         int64
		start, blockd dbTime
	)
	args := []any{key, s.ts(now), s.ts(now.Add(-l.Window)), l.Limit, firstBlock, s.ts(firstExpiry), blockEnd}
	var row rowScanner
	if s.relaxed != nil {
		row = queryRowOn(ctx, s.xgate, s.relaxed, s.q(rateHitQuery), args...)
	} else {
		row = s.queryRow(ctx, rateHitQuery, args...)
	}
	err := row.Scan(&count, &start, &blockd)
	if err != nil {
		return mobileauth.RateDecision{}, fmt.Errorf("rate limit hit: %w", err)
	}
	switch {
	case blockd.valid && blockd.t.After(now):
		return mobileauth.RateDecision{RetryAfter: blockd.t.Sub(now)}, nil
	case count > int64(l.Limit):
		return mobileauth.RateDecision{RetryAfter: max(start.t.Add(l.Window).Sub(now), time.Millisecond)}, nil
	}
	return mobileauth.RateDecision{Allowed: true}, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
