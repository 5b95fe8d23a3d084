// Package ratelimit implements mobileauth.RateLimiter: a fixed-window counter
// per key that, once a key exceeds its limit, blocks it for a while.
//
// Two implementations share one behaviour (and one test suite): Memory, for a
// single process, and Redis, shared by every replica that talks to the same
// Redis. The semantics, for a limit l and a key k:
//
//   - while k is blocked, every hit is denied with RetryAfter = the time left
//     of the block, and is not counted;
//   - otherwise the hit is counted in k's current window (a window of
//     l.Window starts at the first hit after the previous one ended);
//   - the hit that takes the count past l.Limit is denied and blocks k for
//     l.Block (RetryAfter = l.Block); the window's count is discarded, so a
//     fresh window starts when the block ends;
//   - with l.Block == 0 there is no block: hits over the limit are denied
//     until the window ends (RetryAfter = the time left of the window).
package ratelimit

import (
	"errors"
	"fmt"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// ErrInvalidLimit is returned (wrapped) for a limit that cannot be enforced:
// Limit or Window not positive, or Block negative.
var ErrInvalidLimit = errors.New("ratelimit: invalid limit")

// Compile-time checks that both implementations satisfy the domain interface.
var (
	_ mobileauth.RateLimiter = (*Memory)(nil)
	_ mobileauth.RateLimiter = (*Redis)(nil)
)

func validate(l mobileauth.RateLimit) error {
	if l.Limit <= 0 || l.Window <= 0 || l.Block < 0 {
		return fmt.Errorf("%w: limit %d per %s, block %s", ErrInvalidLimit, l.Limit, l.Window, l.Block)
	}
	return nil
}

func allowed() mobileauth.RateDecision { return mobileauth.RateDecision{Allowed: true} }
