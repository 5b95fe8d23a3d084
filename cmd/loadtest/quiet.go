package main

import (
	"context"
	"time"
)

// Other work on this shared machine (a build, another engineer's tests)
// lengthens every tail measured here: a few seconds of it in a 10 s run
// decide that run's p99. A run therefore starts only once the machine has
// been quiet — busy below quietShare while the server and this generator
// are idle — for quietSpell, or after -quiet-wait at the latest. Nothing
// measured is dropped or repeated; the report still notes runs that other
// work shared.
const (
	quietShare = 0.05
	quietSpell = time.Second
	quietPoll  = 250 * time.Millisecond
)

// quietWaiter waits for a quiet machine. busy returns the machine's busy
// and total CPU seconds so far (machineCPU); sleep waits or returns the
// context's error.
type quietWaiter struct {
	busy  func() (busy, total float64)
	sleep func(ctx context.Context, d time.Duration) error
}

func newQuietWaiter() quietWaiter {
	return quietWaiter{busy: machineCPU, sleep: func(ctx context.Context, d time.Duration) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	}}
}

// wait returns how long it waited beyond the first quiet spell and
// whether the machine was quiet by then (false when limit ran out).
func (q quietWaiter) wait(ctx context.Context, limit time.Duration) (waited time.Duration, quiet bool, err error) {
	if limit <= 0 {
		return 0, true, nil
	}
	b0, t0 := q.busy()
	var calm, spent time.Duration
	for {
		if err := q.sleep(ctx, quietPoll); err != nil {
			return spent, false, err
		}
		spent += quietPoll
		b1, t1 := q.busy()
		if t1 > t0 && (b1-b0)/(t1-t0) < quietShare {
			calm += quietPoll
		} else {
			calm = 0
		}
		b0, t0 = b1, t1
		if calm >= quietSpell {
			return spent - calm, true, nil
		}
		if spent >= limit+quietSpell {
			return spent - quietSpell, false, nil
		}
	}
}
