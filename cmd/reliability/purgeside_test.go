package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// The cluster's log tells the verdict when checkpoints ran and which lock
// waits reached deadlock_timeout (50 ms); the PostgreSQL purge verdict
// counts the waits inside the cycle only.
func TestReadCheckpointsLockWaits(t *testing.T) {
	log := strings.Join([]string{
		"2026-12-07 02:00:00.100 UTC [10] LOG:  checkpoint starting: time",
		"2026-12-07 02:00:01.000 UTC [11] LOG:  process 11 still waiting for ShareLock on transaction 750 after 50.112 ms",
		"2026-12-07 02:00:01.000 UTC [11] DETAIL:  Process holding the lock: 12. Wait queue: 11.",
		"2026-12-07 02:00:02.500 UTC [10] LOG:  checkpoint complete: wrote 3 buffers (0.0%); 0 WAL file(s) added, 0 removed, 0 recycled; write=0.001 s, sync=0.400 s, total=2.4 s",
		"2026-12-07 02:00:09.000 UTC [13] LOG:  process 13 still waiting for RowExclusiveLock on relation 16390 of database 5 after 50.01 ms",
		"not a log line",
	}, "\n")
	path := filepath.Join(t.TempDir(), "pg.log")
	require.NoError(t, os.WriteFile(path, []byte(log), 0o600))
	c := readCheckpoints(path)
	require.NotNil(t, c)
	at := func(s string) time.Time {
		v, err := time.Parse("15:04:05.000", s)
		require.NoError(t, err)
		return time.Date(2026, 12, 7, v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), time.UTC)
	}
	for _, tc := range []struct {
		from, to string
		want     int
	}{
		{"02:00:00.000", "02:00:10.000", 2},
		{"02:00:00.000", "02:00:05.000", 1},
		{"02:00:01.001", "02:00:08.999", 0},
	} {
		assert.Equal(t, tc.want, c.lockWaitsIn(at(tc.from), at(tc.to)), "%s–%s", tc.from, tc.to)
	}
	assert.Equal(t, 1, c.during(at("02:00:00.000"), at("02:00:10.000")), "one checkpoint started")
	assert.True(t, c.syncing(at("02:00:02.200"), at("02:00:02.300")), "inside its 0.4 s sync")
	assert.Zero(t, (*checkpointLog)(nil).lockWaitsIn(at("02:00:00.000"), at("02:00:10.000")), "no log: nothing counted")
}
