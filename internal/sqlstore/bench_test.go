package sqlstore_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
)

// benchStores gives the engines to benchmark: SQLite, and PostgreSQL (on a
// schema of its own) only when its URL is set, since a benchmark never
// fails for want of a server.
func benchStores(b *testing.B) map[string]*sqlstore.Store {
	stores := map[string]*sqlstore.Store{}
	s, err := sqlstore.Open(b.Context(), "sqlite:"+filepath.Join(b.TempDir(), "bench.db"), sqlstore.Options{Exclusive: true})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	require.NoError(b, s.Migrate(b.Context()))
	stores["sqlite"] = s
	if os.Getenv("ALGA_TEST_POSTGRES_URL") != "" {
		pg, err := sqlstore.Open(b.Context(), postgresSchema(b), sqlstore.Options{})
		require.NoError(b, err)
		b.Cleanup(func() { _ = pg.Close() })
		require.NoError(b, pg.Migrate(b.Context()))
		stores["postgres"] = pg
	}
	return stores
}

func numbered(prefix uint64, i uint64) mobileauth.Hash {
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], prefix)
	binary.BigEndian.PutUint64(buf[8:], i)
	return sha256.Sum256(buf[:])
}

// BenchmarkRotate measures refresh rotation chains, 16 in parallel.
func BenchmarkRotate(b *testing.B) {
	for name, s := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			ctx := b.Context()
			now := time.Now()
			run := uint64(now.UnixNano())
			var chains atomic.Uint64
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				chain := chains.Add(1) + run
				fam := mobileauth.TokenFamily{ID: fmt.Sprintf("bench-%d", chain), TenantID: "t", UserID: "u", CreatedAt: now}
				cur := numbered(chain, 0)
				require.NoError(b, s.CreateFamily(ctx, fam, mobileauth.RefreshToken{Hash: cur, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
				for i := uint64(1); pb.Next(); i++ {
					next := numbered(chain, i)
					res, err := s.RotateRefreshToken(ctx, cur, next, now.Add(time.Hour), now)
					if err != nil || res.Outcome != mobileauth.Rotated {
						b.Fatalf("rotate: %v %v", res.Outcome, err)
					}
					cur = next
				}
			})
		})
	}
}

// BenchmarkConsumeOTT measures issuing and consuming one-time tokens.
func BenchmarkConsumeOTT(b *testing.B) {
	for name, s := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			ctx := b.Context()
			now := time.Now()
			run := uint64(now.UnixNano())
			var n atomic.Uint64
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					h := numbered(run, n.Add(1))
					require.NoError(b, s.CreateOTT(ctx, mobileauth.OneTimeToken{Hash: h, TenantID: "t", UserID: "u",
						State: "s", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}))
					if _, err := s.ConsumeOTT(ctx, h, now); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
