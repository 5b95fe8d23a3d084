package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// A purge bigger than one chunk deletes everything due, chunk by chunk,
// and nothing else: tokens, and token-less families past retention, both
// those before and after live families in key order.
func TestPurgeDeletesInChunks(t *testing.T) {
	defer func(n int) { purgeChunk = n }(purgeChunk)
	purgeChunk = 3
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "p.db"), Options{Exclusive: true})
	require.NoError(t, err)
	defer func() { _ = s.Close() }()
	require.NoError(t, s.Migrate(ctx))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		id := fmt.Sprintf("fam-%02d", i)
		expires := t0.Add(time.Hour) // expired at purge time
		if i%3 == 0 {
			expires = t0.Add(90 * 24 * time.Hour) // live
		}
		require.NoError(t, s.CreateFamily(ctx, mobileauth.TokenFamily{ID: id, TenantID: "t", UserID: "u", CreatedAt: t0},
			mobileauth.RefreshToken{Hash: mobileauth.Hash{byte(i), 1}, CreatedAt: t0, ExpiresAt: expires}))
		require.NoError(t, s.CreateOTT(ctx, mobileauth.OneTimeToken{Hash: mobileauth.Hash{byte(i), 2}, TenantID: "t", UserID: "u",
			State: "s", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}))
	}
	n, err := s.PurgeExpired(ctx, t0.Add(FamilyRetention+2*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, int64(10+6+6), n, "10 OTTs, 6 expired tokens, their 6 families")
	for _, c := range []struct {
		table string
		want  int
	}{{"one_time_tokens", 0}, {"refresh_tokens", 4}, {"token_families", 4}} {
		var got int
		require.NoError(t, s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM "+c.table).Scan(&got))
		assert.Equal(t, c.want, got, c.table)
	}
}
