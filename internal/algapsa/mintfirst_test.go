package algapsa_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// TestMintFirstAPIKeyRow: a family's first key is the same row as any
// other mint's (SPEC §8.4), and the owner rule holds for it too.
func TestMintFirstAPIKeyRow(t *testing.T) {
	sdb, db := standIn(t)
	ctx := context.Background()
	u := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com"})
	other, err := db.MintAPIKey(ctx, u.TenantID, u.ID, "other-family", phone, ttl)
	require.NoError(t, err)

	k, err := db.MintFirstAPIKey(ctx, u.TenantID, u.ID, "fam-1", phone, ttl)
	require.NoError(t, err)
	assert.Regexp(t, "^[0-9a-f]{64}$", k.Key)
	assert.Equal(t, "fam-1", k.FamilyID)
	row := sdb.APIKeyRow(t, k.ID)
	assert.Equal(t, algapsatest.SHA256Hex(k.Key), row.APIKey)
	assert.Equal(t, ptr("Mobile session"), row.Description)
	assert.Equal(t, "mobile_session", row.Purpose)
	assert.Equal(t, map[string]any{"issuer": "alga-mobile-auth", "familyId": "fam-1",
		"device": map[string]any{"platform": "ios", "appVersion": "1.2.3", "buildVersion": "45", "deviceId": "dev-1"}}, row.Metadata)
	assert.True(t, row.Active)
	assert.Equal(t, int32(0), row.UsageCount)
	require.NotNil(t, row.ExpiresAt)
	assert.Equal(t, ttl, row.ExpiresAt.Sub(row.CreatedAt))
	assert.True(t, accepted(t, sdb, k.Key, u.TenantID))
	assert.True(t, accepted(t, sdb, other.Key, u.TenantID), "another family's key is untouched")

	next, err := db.MintAPIKey(ctx, u.TenantID, u.ID, "fam-1", phone, ttl)
	require.NoError(t, err)
	assert.False(t, accepted(t, sdb, k.Key, u.TenantID), "the family's next mint deactivates the first key as any other")
	assert.True(t, accepted(t, sdb, next.Key, u.TenantID))

	sdb.SetUserInactive(t, u.TenantID, u.ID, true)
	_, err = db.MintFirstAPIKey(ctx, u.TenantID, u.ID, "fam-2", phone, ttl)
	require.ErrorIs(t, err, mobileauth.ErrNotFound, "an inactive owner gets no key")
	assert.Empty(t, sdb.APIKeyRows(t, "metadata->>'familyId' = 'fam-2'"))
}

// TestFirstMintAndRevocationAreOrdered: a revocation of the family racing
// its first mint either deactivates the key or runs before the key exists
// (then the caller's re-check of the family ends it, see authflow): the
// first mint takes the family's lock like any other, so RevokeFamilyKeys
// never misses a key that was committed before it returned.
func TestFirstMintAndRevocationAreOrdered(t *testing.T) {
	sdb, _ := standIn(t)
	dbs := replicas(t, sdb, 2)
	u := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com"})
	ctx := context.Background()
	for i := range 20 {
		fam := "fam-" + string(rune('a'+i))
		var wg sync.WaitGroup
		var minted mobileauth.MintedAPIKey
		var mintErr, revokeErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			minted, mintErr = dbs[0].MintFirstAPIKey(ctx, u.TenantID, u.ID, fam, phone, ttl)
		}()
		go func() { defer wg.Done(); _, revokeErr = dbs[1].RevokeFamilyKeys(ctx, u.TenantID, u.ID, fam) }()
		wg.Wait()
		require.NoError(t, mintErr)
		require.NoError(t, revokeErr)
		// Whichever came first, one more revocation (the caller's re-check
		// finding the family ended) leaves the family without a key.
		_, err := dbs[1].RevokeFamilyKeys(ctx, u.TenantID, u.ID, fam)
		require.NoError(t, err)
		assert.False(t, accepted(t, sdb, minted.Key, u.TenantID))
		assert.Empty(t, sdb.APIKeyRows(t, "metadata->>'familyId' = $1 AND active", fam))
	}
}
