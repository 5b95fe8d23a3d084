package sqlstore

import (
	"context"
	"log/slog"
	"time"
)

// PurgeEvery is how often RunPurge deletes expired rows. Expiry is
// enforced by every query, so purging is housekeeping only and may lag.
const PurgeEvery = 10 * time.Minute

// RunPurge deletes expired OTTs, sessions, refresh tokens and rate-limit
// rows every PurgeEvery until ctx ends (PurgeExpired), then runs each of
// also (housekeeping elsewhere on the same schedule, such as AlgaPSA's API
// keys in appliance mode). On several replicas each purges; the deletes
// are idempotent. Failures are logged, not returned: the next round tries
// again.
func (s *Store) RunPurge(ctx context.Context, now func() time.Time, log *slog.Logger, also ...func(context.Context)) {
	t := time.NewTicker(PurgeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.PurgeExpired(ctx, now())
			if err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "purging expired rows failed", "error", err)
			} else if n > 0 {
				log.DebugContext(ctx, "purged expired rows", "rows", n)
			}
			for _, f := range also {
				f(ctx)
			}
		}
	}
}
