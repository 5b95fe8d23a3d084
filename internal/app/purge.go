package app

import (
	"context"
	"time"
)

// purgeEvery is how often expired rows are deleted. Expiry is enforced by
// every query, so purging is housekeeping only and may lag.
const purgeEvery = 10 * time.Minute

// purgeLoop deletes expired OTTs, sessions, refresh tokens and rate-limit
// rows until ctx ends. On several replicas each purges; the deletes are
// idempotent.
func (a *App) purgeLoop(ctx context.Context) {
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := a.Store.PurgeExpired(ctx, a.now())
			if err != nil && ctx.Err() == nil {
				a.Log.WarnContext(ctx, "purging expired rows failed", "error", err)
			} else if n > 0 {
				a.Log.DebugContext(ctx, "purged expired rows", "rows", n)
			}
		}
	}
}
