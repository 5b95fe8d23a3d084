package appliance

import (
	"context"
	"log/slog"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa"
)

// KeyHousekeeping is the API-key housekeeping of SPEC §8.4, as a round of
// the own store's purge loop: this service's expired keys in AlgaPSA's
// database are deactivated and its old inactive ones deleted (never a key
// it did not create). On several replicas each sweeps; the statements are
// idempotent. A failure is logged; the next round tries again.
func KeyHousekeeping(db *algapsa.DB, log *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		r, err := db.SweepAPIKeys(ctx)
		if err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "API-key housekeeping in AlgaPSA's database failed", "error", err)
		} else if r.Deactivated > 0 || r.Deleted > 0 {
			log.DebugContext(ctx, "API-key housekeeping", "deactivated", r.Deactivated, "deleted", r.Deleted)
		}
	}
}
