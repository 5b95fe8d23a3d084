package main

import (
	"testing"
	"time"
)

// TestServedAroundHeldUp: requests fall into before, during and control by
// their span, and held up is what the cycle added to the 99.9th
// percentile, so one outlier in a thousand does not count but a shifted
// tail does.
func TestServedAroundHeldUp(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	cycle := purgeCycle{start: t0.Add(10 * time.Second), end: t0.Add(20 * time.Second)}
	from, to := cycle.end.Add(time.Second), cycle.end.Add(11*time.Second)
	// n requests of route starting at at, spaced 1 ms, lasting d, except
	// the slow ones (every slowEvery-th) lasting slow.
	fill := func(at time.Time, n int, d time.Duration, slowEvery int, slow time.Duration) []servedRequest {
		var out []servedRequest
		for i := range n {
			dur := d
			if slowEvery > 0 && i%slowEvery == slowEvery-1 {
				dur = slow
			}
			s := at.Add(time.Duration(i) * time.Millisecond)
			out = append(out, servedRequest{start: s, end: s.Add(dur), route: "/api/v1/mobile/auth/refresh", status: 200, dur: dur})
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		during        []servedRequest
		control       []servedRequest
		wantHeldUp    time.Duration
		wantOver50    int
		wantCtlOver50 int
	}{
		{"one outlier in 5000 during it: not held up",
			fill(cycle.start, 5000, 5*time.Millisecond, 5000, 200*time.Millisecond),
			fill(from, 5000, 5*time.Millisecond, 0, 0), 0, 1, 0},
		{"the same outliers in the control: not held up",
			fill(cycle.start, 5000, 5*time.Millisecond, 500, 80*time.Millisecond),
			fill(from, 5000, 5*time.Millisecond, 500, 80*time.Millisecond), 0, 10, 10},
		{"one in 100 slowed by 80 ms during it: held up",
			fill(cycle.start, 5000, 5*time.Millisecond, 100, 85*time.Millisecond),
			fill(from, 5000, 5*time.Millisecond, 0, 0), 80 * time.Millisecond, 50, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reqs := append(append(fill(t0.Add(2*time.Second), 100, 5*time.Millisecond, 0, 0), tc.during...), tc.control...)
			reqs = append(reqs, servedRequest{start: t0, end: t0.Add(time.Millisecond), route: "/api/v1/mobile/auth/verify", dur: time.Millisecond})
			s := servedAround(reqs, "refresh", t0.Add(time.Second), cycle, from, to)
			if s.before.count() != 100 || s.during.count() != len(tc.during) || s.control.count() != len(tc.control) {
				t.Fatalf("split before/during/control = %d/%d/%d, want 100/%d/%d", s.before.count(), s.during.count(), s.control.count(), len(tc.during), len(tc.control))
			}
			if got := s.heldUp(); got != tc.wantHeldUp {
				t.Errorf("held up %s, want %s", got, tc.wantHeldUp)
			}
			if s.over50 != tc.wantOver50 || s.controlOver50 != tc.wantCtlOver50 {
				t.Errorf("over 50 ms during/control = %d/%d, want %d/%d", s.over50, s.controlOver50, tc.wantOver50, tc.wantCtlOver50)
			}
		})
	}
}
