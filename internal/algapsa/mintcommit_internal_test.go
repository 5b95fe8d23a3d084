package algapsa

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// TestMintRelaxesOnlyItsOwnCommit: a mint's batch commits with
// synchronous_commit off (mintLockSQL), and only its own transaction does:
// on a pool of one connection, whatever ran before, the statements that
// take access away (revocations, the sweep) still run with the server's
// setting, and the mint's batch still takes the family's lock.
func TestMintRelaxesOnlyItsOwnCommit(t *testing.T) {
	sdb := algapsatest.New(t)
	d, err := Open(context.Background(), sdb.AppURL, Options{MaxConns: 1})
	require.NoError(t, err)
	t.Cleanup(d.Close)
	ctx := context.Background()
	u := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com"})
	dev := mobileauth.Device{Platform: "ios"}
	setting := func(q interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}) string {
		t.Helper()
		var v string
		require.NoError(t, q.QueryRow(ctx, "SELECT current_setting('synchronous_commit')").Scan(&v))
		return v
	}
	server := setting(d.pool)
	require.NotEqual(t, "off", server, "the stand-in's server must flush at commit for this test to mean anything")

	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"first mint", func() error {
			_, err := d.MintFirstAPIKey(ctx, u.TenantID, u.ID, "fam-1", dev, time.Minute)
			return err
		}},
		{"mint", func() error { _, err := d.MintAPIKey(ctx, u.TenantID, u.ID, "fam-1", dev, time.Minute); return err }},
		{"refused mint", func() error {
			_, err := d.MintAPIKey(ctx, u.TenantID, "00000000-0000-4000-8000-000000000000", "fam-2", dev, time.Minute)
			if !assert.ErrorIs(t, err, mobileauth.ErrNotFound) {
				return err
			}
			return nil
		}},
		{"family revocation", func() error { _, err := d.RevokeFamilyKeys(ctx, u.TenantID, u.ID, "fam-1"); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, tc.run())
			assert.Equal(t, server, setting(d.pool), "the connection keeps the server's setting after it")
		})
	}
	require.Len(t, sdb.APIKeyRows(t, "metadata->>'familyId' = 'fam-1'"), 2)
	assert.Empty(t, sdb.APIKeyRows(t, "metadata->>'familyId' = 'fam-1' AND active"), "the revocation ended the family's key")

	t.Run("inside the mint's transaction", func(t *testing.T) {
		tx, err := d.pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, mintLockSQL, familyLockKey("fam-3"))
		require.NoError(t, err)
		assert.Equal(t, "off", setting(tx))
		var held bool
		require.NoError(t, tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks
			WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted)`).Scan(&held))
		assert.True(t, held, "the family's lock is taken")
		require.NoError(t, tx.Commit(ctx))
		assert.Equal(t, server, setting(d.pool))
	})
}
