package sqlstore

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// DefaultPurgeEvery is how often RunPurge deletes expired rows unless
// Options.PurgeEvery says otherwise. Expiry is enforced by every query, so
// purging is housekeeping only and may lag.
const DefaultPurgeEvery = 10 * time.Minute

// RunPurge deletes expired OTTs, sessions, refresh tokens, rate-limit rows
// and old audit events every Options.PurgeEvery until ctx ends
// (PurgeExpired), then runs each of
// also (housekeeping elsewhere on the same schedule, such as AlgaPSA's API
// keys in appliance mode). On several replicas each purges; the deletes
// are idempotent. Failures are logged, not returned: the next round tries
// again.
func (s *Store) RunPurge(ctx context.Context, now func() time.Time, log *slog.Logger, also ...func(context.Context)) {
	t := time.NewTicker(s.purgeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			began := time.Now()
			st, err := s.PurgeCycle(ctx, now())
			if err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "purging expired rows failed", "error", err)
			} else if st.Rows > 0 {
				// Once per cycle at most; its duration shows how long the
				// chunked deletes ran beside the requests, the longest
				// chunk how long one of them held the store.
				log.InfoContext(ctx, "purged expired rows", "rows", st.Rows, "chunks", st.Chunks,
					"duration_ms", millis(time.Since(began)), "longest_chunk_ms", millis(st.LongestChunk),
					"chunks_over_budget", st.OverBudget, "chunks_over_limit", st.OverLimit,
					"chunk_rows_min", st.MinChunkRows, "chunk_rows_max", st.MaxChunkRows, "wal_bytes", st.WALBytes,
					"tables", tablesSummary(st.Tables))
			}
			for _, f := range also {
				f(ctx)
			}
		}
	}
}

// tablesSummary lists the tables the cycle deleted from, or took a
// statement in.
func tablesSummary(ts []TablePurge) string {
	var parts []string
	for _, t := range ts {
		if t.Rows > 0 || t.Chunks > 1 {
			parts = append(parts, t.String())
		}
	}
	return strings.Join(parts, "; ")
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
