package authflow

import (
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// RateIPForTest exposes rateIP to the external test package.
var RateIPForTest = rateIP

// UnreleasedForTest is how many OTTs of failed exchanges wait to be given back.
func (s *Service) UnreleasedForTest() int { return s.unreleased.len() }

// UnreleasedBoundForTest fills a fresh set to its bound with entries that
// expire at until, then reports whether one more is taken at now, and how
// many entries the set holds afterwards.
func UnreleasedBoundForTest(until, now time.Time) (added bool, held int) {
	var u unreleased
	for i := range maxUnreleased {
		var h mobileauth.Hash
		h[0], h[1] = byte(i), byte(i>>8)
		u.add(h, unreleasedOTT{until: until}, until.Add(-time.Hour))
	}
	added = u.add(mobileauth.Hash{0xff, 0xff, 0xff}, unreleasedOTT{until: now.Add(time.Minute)}, now)
	return added, u.len()
}
