package license

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTrialStatus(t *testing.T) {
	tests := []struct {
		name       string
		start      time.Time
		active     bool
		notStarted bool
	}{
		{"active an hour in", t0.Add(-time.Hour), true, false},
		{"active at its start", t0, true, false},
		{"active on its last second", t0.Add(-TrialDuration + time.Second), true, false},
		{"over after 15 days", t0.Add(-TrialDuration), false, false},
		{"over long after", t0.Add(-100 * 24 * time.Hour), false, false},
		{"active when the start is 59 s ahead (skew)", t0.Add(59 * time.Second), true, false},
		{"not started when the start is 2 minutes ahead", t0.Add(2 * time.Minute), false, true},
		{"not started when the start is years ahead", t0.AddDate(10, 0, 0), false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := trialStatus(&tc.start, t0)
			assert.True(t, s.Configured)
			assert.Equal(t, tc.active, s.Active, "active")
			assert.Equal(t, tc.notStarted, s.NotStarted, "not started")
			assert.Equal(t, tc.start.Add(TrialDuration), s.EndsAt)
		})
	}
	t.Run("absent", func(t *testing.T) {
		assert.Equal(t, TrialStatus{}, trialStatus(nil, t0))
	})
}

func TestParseTrialStart(t *testing.T) {
	got, err := ParseTrialStart(" 2025-05-30T09:00:00+02:00\n")
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.True(t, got.Equal(time.Date(2025, 5, 30, 7, 0, 0, 0, time.UTC)))

	got, err = ParseTrialStart("  ")
	require.NoError(t, err)
	assert.Nil(t, got, "blank means no trial")

	for _, bad := range []string{"2025-05-30", "yesterday", "2025-05-30 09:00:00", "1717000000"} {
		t.Run("refuses "+bad, func(t *testing.T) {
			_, err := ParseTrialStart(bad)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "ALGA_TRIAL_STARTED_AT")
			assert.Contains(t, err.Error(), "RFC 3339")
		})
	}
}
