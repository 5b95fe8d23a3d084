package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeMachine replays per-poll busy shares of a two-CPU machine.
func fakeMachine(shares ...float64) quietWaiter {
	var busy, total float64
	i := 0
	return quietWaiter{
		busy: func() (float64, float64) { return busy, total },
		sleep: func(context.Context, time.Duration) error {
			s := 0.0
			if i < len(shares) {
				s = shares[i]
			} else if len(shares) > 0 {
				s = shares[len(shares)-1]
			}
			i++
			total += 2 * quietPoll.Seconds()
			busy += s * 2 * quietPoll.Seconds()
			return nil
		},
	}
}

func TestQuietWaitStartsOnceTheMachineCalmsDown(t *testing.T) {
	polls := int(quietSpell / quietPoll)
	tests := []struct {
		name       string
		shares     []float64
		limit      time.Duration
		wantWaited time.Duration
		wantQuiet  bool
	}{
		{"quiet at once", []float64{0.01}, 30 * time.Second, 0, true},
		{"busy for two polls", []float64{0.9, 0.5, 0.0}, 30 * time.Second, 2 * quietPoll, true},
		{"a busy poll resets the spell", append(append(make([]float64, polls-1), 0.5), 0), 30 * time.Second,
			time.Duration(polls) * quietPoll, true},
		{"never quiet gives up at the limit", []float64{0.8}, 2 * time.Second, 2 * time.Second, false},
		{"no limit, no wait", []float64{0.8}, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			waited, quiet, err := fakeMachine(tt.shares...).wait(context.Background(), tt.limit)
			require.NoError(t, err)
			assert.Equal(t, tt.wantWaited, waited)
			assert.Equal(t, tt.wantQuiet, quiet)
		})
	}
}

func TestQuietWaitStopsWithTheContext(t *testing.T) {
	q := fakeMachine(0.9)
	q.sleep = func(context.Context, time.Duration) error { return context.Canceled }
	_, quiet, err := q.wait(context.Background(), time.Minute)
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, quiet)
}
