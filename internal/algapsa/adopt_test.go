package algapsa_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

func hashOf(token string) mobileauth.Hash { return sha256.Sum256([]byte(token)) }

func TestAdoptAlgaRefreshToken(t *testing.T) {
	sdb, db := standIn(t)
	ctx := context.Background()
	u := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com"})

	t.Run("claimed once, its key deactivated", func(t *testing.T) {
		tok := sdb.IssueAlgaRefreshToken(t, u.TenantID, u.ID, 24*time.Hour)
		require.True(t, accepted(t, sdb, tok.APIKey, u.TenantID))
		before := sdb.RefreshTokenRow(t, tok.ID)
		keyBefore := sdb.APIKeyRow(t, tok.APIKeyID)

		a, err := db.AdoptAlgaRefreshToken(ctx, hashOf(tok.Token))
		require.NoError(t, err)
		assert.Equal(t, mobileauth.AdoptedRefreshToken{ID: tok.ID, TenantID: u.TenantID, UserID: u.ID, APIKeyID: tok.APIKeyID}, a)

		after := sdb.RefreshTokenRow(t, tok.ID)
		require.NotNil(t, after.RevokedAt)
		require.NotNil(t, after.LastUsedAt)
		assert.Equal(t, *after.RevokedAt, *after.LastUsedAt, "revoked_at and last_used_at are the same now")
		assert.WithinDuration(t, sdb.Now(t), *after.RevokedAt, time.Minute)
		after.RevokedAt, after.LastUsedAt = nil, nil
		assert.Equal(t, before, after, "nothing else changes")

		assert.False(t, accepted(t, sdb, tok.APIKey, u.TenantID), "AlgaPSA's key for it stops working")
		keyAfter := sdb.APIKeyRow(t, tok.APIKeyID)
		assert.False(t, keyAfter.Active)
		keyAfter.Active, keyAfter.UpdatedAt, keyAfter.LastUsedAt = keyBefore.Active, keyBefore.UpdatedAt, keyBefore.LastUsedAt
		assert.Equal(t, keyBefore, keyAfter)

		_, err = db.AdoptAlgaRefreshToken(ctx, hashOf(tok.Token))
		assert.ErrorIs(t, err, mobileauth.ErrNotFound, "a second adoption finds nothing")
	})

	refusals := []struct {
		name  string
		setup func(t *testing.T) (token, id string)
	}{
		{"expired", func(t *testing.T) (string, string) {
			tok := sdb.IssueAlgaRefreshToken(t, u.TenantID, u.ID, -time.Second)
			return tok.Token, tok.ID
		}},
		{"revoked by AlgaPSA", func(t *testing.T) (string, string) {
			tok := sdb.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
			sdb.Exec(t, "UPDATE mobile_refresh_tokens SET revoked_at = now() WHERE mobile_refresh_token_id = $1", tok.ID)
			return tok.Token, tok.ID
		}},
		{"unknown", func(t *testing.T) (string, string) { return "never-issued", "" }},
	}
	for _, tt := range refusals {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			token, id := tt.setup(t)
			var before algapsatest.RefreshTokenRow
			if id != "" {
				before = sdb.RefreshTokenRow(t, id)
			}
			_, err := db.AdoptAlgaRefreshToken(ctx, hashOf(token))
			assert.ErrorIs(t, err, mobileauth.ErrNotFound)
			if id != "" {
				assert.Equal(t, before, sdb.RefreshTokenRow(t, id), "row untouched")
			}
		})
	}

	t.Run("a row without an api key", func(t *testing.T) {
		tok := sdb.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
		sdb.Exec(t, "UPDATE mobile_refresh_tokens SET api_key_id = NULL WHERE mobile_refresh_token_id = $1", tok.ID)
		a, err := db.AdoptAlgaRefreshToken(ctx, hashOf(tok.Token))
		require.NoError(t, err)
		assert.Empty(t, a.APIKeyID)
	})
}

func TestRevokeAlgaRefreshToken(t *testing.T) {
	sdb, db := standIn(t)
	ctx := context.Background()
	u := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com"})
	tests := []struct {
		name  string
		ttl   time.Duration
		found bool
	}{
		{"live token", time.Hour, true},
		{"expired token is revoked all the same", -time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := sdb.IssueAlgaRefreshToken(t, u.TenantID, u.ID, tt.ttl)
			found, err := db.RevokeAlgaRefreshToken(ctx, hashOf(tok.Token))
			require.NoError(t, err)
			assert.Equal(t, tt.found, found)
			row := sdb.RefreshTokenRow(t, tok.ID)
			assert.NotNil(t, row.RevokedAt)
			assert.False(t, sdb.APIKeyRow(t, tok.APIKeyID).Active)
			assert.False(t, accepted(t, sdb, tok.APIKey, u.TenantID))
			found, err = db.RevokeAlgaRefreshToken(ctx, hashOf(tok.Token))
			require.NoError(t, err)
			assert.False(t, found, "already revoked")
		})
	}
	found, err := db.RevokeAlgaRefreshToken(ctx, hashOf("unknown"))
	require.NoError(t, err)
	assert.False(t, found)
}

func TestFindAlgaRefreshTokenReadsWithoutClaiming(t *testing.T) {
	sdb, db := standIn(t)
	ctx := context.Background()
	u := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com"})

	tok := sdb.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
	before := sdb.RefreshTokenRow(t, tok.ID)
	a, err := db.FindAlgaRefreshToken(ctx, hashOf(tok.Token))
	require.NoError(t, err)
	assert.Equal(t, mobileauth.AdoptedRefreshToken{ID: tok.ID, TenantID: u.TenantID, UserID: u.ID, APIKeyID: tok.APIKeyID}, a)
	assert.Equal(t, before, sdb.RefreshTokenRow(t, tok.ID), "row untouched")
	assert.True(t, sdb.APIKeyRow(t, tok.APIKeyID).Active, "its key stays active")

	for _, tt := range []struct {
		name  string
		token func(t *testing.T) string
	}{
		{"expired", func(t *testing.T) string { return sdb.IssueAlgaRefreshToken(t, u.TenantID, u.ID, -time.Second).Token }},
		{"revoked", func(t *testing.T) string {
			tok := sdb.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
			sdb.Exec(t, "UPDATE mobile_refresh_tokens SET revoked_at = now() WHERE mobile_refresh_token_id = $1", tok.ID)
			return tok.Token
		}},
		{"unknown", func(*testing.T) string { return "never-issued" }},
	} {
		t.Run("not found: "+tt.name, func(t *testing.T) {
			_, err := db.FindAlgaRefreshToken(ctx, hashOf(tt.token(t)))
			assert.ErrorIs(t, err, mobileauth.ErrNotFound)
		})
	}
}
