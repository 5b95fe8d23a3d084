package algapsa_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// TestNothingIsCreatedOrAltered runs every adapter operation and requires
// the stand-in's catalog (tables, columns, indexes, constraints, triggers,
// functions, policies, privileges) to be exactly as before (SPEC §8.1).
func TestNothingIsCreatedOrAltered(t *testing.T) {
	sdb, db := standIn(t)
	ctx := context.Background()
	u := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com"})
	session := sdb.AddSession(t, u.TenantID, u.ID, time.Hour)
	tok := sdb.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
	tok2 := sdb.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
	before := sdb.Catalog(t)
	require.NotEmpty(t, before)

	require.NoError(t, db.Ping(ctx))
	_, err := db.FindUsersByEmail(ctx, u.Email)
	require.NoError(t, err)
	_, err = db.GetUser(ctx, u.TenantID, u.ID)
	require.NoError(t, err)
	_, err = db.GetTenant(ctx, u.TenantID)
	require.NoError(t, err)
	_, err = db.GetMember(ctx, u.TenantID, u.ID)
	require.NoError(t, err)
	_, err = db.CheckWebSession(ctx, u.TenantID, session, u.ID, mobileauth.UserInternal)
	require.NoError(t, err)
	k, err := db.MintAPIKey(ctx, u.TenantID, u.ID, "fam", phone, ttl)
	require.NoError(t, err)
	_, err = db.MintAPIKey(ctx, u.TenantID, u.ID, "fam", phone, ttl)
	require.NoError(t, err)
	_, err = db.VerifyAPIKey(ctx, k.Key)
	require.ErrorIs(t, err, mobileauth.ErrNotFound)
	_, err = db.RevokeFamilyKeys(ctx, u.TenantID, u.ID, "fam")
	require.NoError(t, err)
	_, err = db.RevokeUserKeys(ctx, u.TenantID, u.ID)
	require.NoError(t, err)
	_, err = db.AdoptAlgaRefreshToken(ctx, hashOf(tok.Token))
	require.NoError(t, err)
	_, err = db.RevokeAlgaRefreshToken(ctx, hashOf(tok2.Token))
	require.NoError(t, err)
	_, err = db.SweepAPIKeys(ctx)
	require.NoError(t, err)
	_, err = db.MissingPrivileges(ctx)
	require.NoError(t, err)

	assert.Equal(t, before, sdb.Catalog(t))

	// The snapshot does see a change of the kind it guards against.
	sdb.Exec(t, "CREATE INDEX catalog_probe ON api_keys ((metadata->>'familyId'))")
	assert.NotEqual(t, before, sdb.Catalog(t))
}
