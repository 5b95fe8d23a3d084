package license

import (
	"fmt"
	"strings"
	"time"
)

// TrialDuration is the length of the self-host trial (SPEC §2).
const TrialDuration = 15 * 24 * time.Hour

// TrialStatus is the trial's state at one instant.
type TrialStatus struct {
	// Configured is true when ALGA_TRIAL_STARTED_AT is set.
	Configured bool
	// Active is true from StartedAt (less Leeway) until EndsAt.
	Active bool
	// NotStarted is true when StartedAt is more than Leeway in the future.
	// Such a trial is not active: otherwise a start date far ahead would buy
	// a trial that never ends in practice. Its usual cause is a typo or a
	// wrong clock, which check reports.
	NotStarted bool
	StartedAt  time.Time
	EndsAt     time.Time
}

// trialStatus evaluates a trial that started at start (nil: none). The
// leeway applies only to the start, to absorb a timestamp written on a
// machine whose clock runs a little ahead; the end is exact.
func trialStatus(start *time.Time, now time.Time) TrialStatus {
	if start == nil {
		return TrialStatus{}
	}
	s := TrialStatus{
		Configured: true,
		StartedAt:  *start,
		EndsAt:     start.Add(TrialDuration),
	}
	s.NotStarted = now.Before(start.Add(-Leeway))
	s.Active = !s.NotStarted && now.Before(s.EndsAt)
	return s
}

// ParseTrialStart parses ALGA_TRIAL_STARTED_AT, an RFC 3339 timestamp. An
// empty (or blank) value means no trial and returns nil.
func ParseTrialStart(s string) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, fmt.Errorf("ALGA_TRIAL_STARTED_AT: want an RFC 3339 time such as 2025-01-31T09:00:00Z: %w", err)
	}
	return &t, nil
}
