package testclock

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestClockMovesOnlyWhenAdvanced(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := New(t0)
	assert.Equal(t, t0, c.Now())
	assert.Equal(t, t0, c.Now(), "reading does not move it")
	c.Advance(90 * time.Second)
	assert.Equal(t, t0.Add(90*time.Second), c.Now())
}

func TestClockIsSafeForConcurrentUse(t *testing.T) {
	c := New(time.Time{})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			c.Advance(time.Second)
			_ = c.Now()
		})
	}
	wg.Wait()
	assert.Equal(t, time.Time{}.Add(50*time.Second), c.Now())
}
