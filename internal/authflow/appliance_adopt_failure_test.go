package authflow_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa"
	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// TestApplianceAdoptionFailures: what a failure at each step of an adoption
// leaves behind. A mint failing after the claim leaves the phone its retry;
// AlgaPSA taking its token back between the read and the claim leaves no
// live family here; a claim whose fate is unknown (outage) leaves nothing
// here, so the retry adopts; a family its creator left pending is waited
// for (503, retry) and, once stale, abandoned and adopted again.
func TestApplianceAdoptionFailures(t *testing.T) {
	f := newApplianceFixture(t)
	hook := &algaHook{}
	mint := &failingMint{}
	svc, _, _, _ := f.replicaWrapped(wrappers{
		alga:   wrapAlga(hook),
		access: func(a authflow.AccessCredentials) authflow.AccessCredentials { mint.AccessCredentials = a; return mint },
	})
	refresh := func(rt string) (authflow.RefreshResult, error) {
		return svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: rt, ClientIP: "198.51.100.8"})
	}

	t.Run("mint failing after the claim: the retry gets the successor", func(t *testing.T) {
		u := f.user()
		tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
		mint.fail = 1
		_, err := refresh(tok.Token)
		assertCode(t, err, mobileauth.CodeInternal)
		assert.NotNil(t, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt, "AlgaPSA's row was claimed")
		fam := f.adoptedFamily(tok)
		assert.False(t, fam.AdoptionPending, "the adoption was confirmed before the mint")
		assert.Nil(t, fam.RevokedAt)

		r, err := refresh(tok.Token)
		require.NoError(t, err, "the phone's retry")
		require.NoError(t, f.accepted(r.AccessToken, u.TenantID))
		again, err := f.refresh(tok.Token)
		require.NoError(t, err)
		assert.Equal(t, r.RefreshToken, again.RefreshToken, "the family's one successor")
		assert.Equal(t, 1, f.activeKeys(fam.ID))
	})
	t.Run("AlgaPSA rotates the token between read and claim: 401, no live family", func(t *testing.T) {
		u := f.user()
		tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
		hook.before = func(mobileauth.Hash) error {
			rotateInAlgaPSA(t, f, u, tok) // AlgaPSA's own endpoint, meanwhile
			return nil
		}
		_, err := refresh(tok.Token)
		assertCode(t, err, mobileauth.CodeUnauthorized)
		require.Nil(t, hook.before, "the hook ran")
		fam := f.adoptedFamily(tok)
		assert.NotNil(t, fam.RevokedAt, "the family begun for it is revoked")
		assert.Empty(t, f.psa.APIKeyRows(t, "user_id = $1 AND metadata->>'issuer' = $2", u.ID, algapsa.KeyIssuer), "no key minted")
		_, err = refresh(tok.Token)
		assertCode(t, err, mobileauth.CodeUnauthorized)
		_, err = f.refresh(tok.Token)
		assertCode(t, err, mobileauth.CodeUnauthorized)
	})
	t.Run("claim outage: the family stays pending, the retry settles it", func(t *testing.T) {
		u := f.user()
		tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
		hook.before = func(mobileauth.Hash) error { return errors.New("AlgaPSA database: connection refused") }
		_, err := refresh(tok.Token)
		assertCode(t, err, mobileauth.CodeInternal)
		assert.True(t, f.adoptedFamily(tok).AdoptionPending, "kept: the claim's fate is unknown")
		assert.Nil(t, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt)

		f.clock.Advance(time.Minute) // past the grace period: pending families are not judged by it
		r, err := refresh(tok.Token)
		require.NoError(t, err)
		require.NoError(t, f.accepted(r.AccessToken, u.TenantID))
		assert.NotNil(t, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt)
		again, err := f.refresh(tok.Token)
		require.NoError(t, err, "the grace period counts from the confirmation")
		assert.Equal(t, r.RefreshToken, again.RefreshToken)
	})
	t.Run("a family its creator left pending is settled by the next presentation", func(t *testing.T) {
		u := f.user()
		tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
		// A creator that died after creating the family, before claiming.
		deriver, err := token.NewDeriver(f.secret)
		require.NoError(t, err)
		succ := token.HashOf(deriver.Successor(tok.Token))
		now := f.clock.Now()
		id := "dead-creator-" + u.ID[:8]
		require.NoError(t, f.store.CreateAdoptedFamily(f.ctx,
			mobileauth.TokenFamily{ID: id, TenantID: u.TenantID, UserID: u.ID, CreatedAt: now, AdoptionPending: true},
			mobileauth.RefreshToken{Hash: token.HashOf(tok.Token), CreatedAt: now, ExpiresAt: now.Add(time.Hour), RotatedAt: &now, ReplacedBy: &succ},
			mobileauth.RefreshToken{Hash: succ, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
		r, err := refresh(tok.Token)
		require.NoError(t, err)
		require.NoError(t, f.accepted(r.AccessToken, u.TenantID))
		assert.Equal(t, id, f.adoptedFamily(tok).ID)
		assert.False(t, f.adoptedFamily(tok).AdoptionPending)
		assert.NotNil(t, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt)
	})
}

// TestApplianceRevokeDuringAdoption: /revoke of a token whose adoption is
// still pending (its claim may not have happened) revokes the family here
// and the token where AlgaPSA issued it, with its key.
func TestApplianceRevokeDuringAdoption(t *testing.T) {
	f := newApplianceFixture(t)
	u := f.user()
	tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
	deriver, err := token.NewDeriver(f.secret)
	require.NoError(t, err)
	succ := token.HashOf(deriver.Successor(tok.Token))
	now := f.clock.Now()
	require.NoError(t, f.store.CreateAdoptedFamily(f.ctx,
		mobileauth.TokenFamily{ID: "pending-" + u.ID[:8], TenantID: u.TenantID, UserID: u.ID, CreatedAt: now, AdoptionPending: true},
		mobileauth.RefreshToken{Hash: token.HashOf(tok.Token), CreatedAt: now, ExpiresAt: now.Add(time.Hour), RotatedAt: &now, ReplacedBy: &succ},
		mobileauth.RefreshToken{Hash: succ, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))

	require.NoError(t, f.svc.Revoke(f.ctx, authflow.RevokeRequest{RefreshToken: tok.Token, ClientIP: "198.51.100.9"}))
	assert.NotNil(t, f.adoptedFamily(tok).RevokedAt)
	assert.NotNil(t, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt, "revoked where AlgaPSA issued it")
	assert.False(t, f.psa.APIKeyRow(t, tok.APIKeyID).Active)
	_, err = f.refresh(tok.Token)
	assertCode(t, err, mobileauth.CodeUnauthorized)
}

// TestApplianceAdoptionOutlivesADroppedConnection: the phone drops the
// connection (the request's context is cancelled) while its refresh is
// adopting the token, after the family was created: the adoption is still
// settled (claimed, confirmed), so the phone's retry gets the successor
// instead of waiting on a pending family.
func TestApplianceAdoptionOutlivesADroppedConnection(t *testing.T) {
	f := newApplianceFixture(t)
	hook := &algaHook{}
	svc := f.replicaVia(hook)
	u := f.user()
	tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
	ctx, drop := context.WithCancel(f.ctx)
	hook.before = func(mobileauth.Hash) error {
		drop() // between the family's creation and the claim
		return nil
	}
	_, err := svc.Refresh(ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "203.0.113.7"})
	require.Error(t, err, "the dropped request itself fails (its mint)")
	fam := f.adoptedFamily(tok)
	assert.False(t, fam.AdoptionPending, "the adoption was settled all the same")
	assert.Nil(t, fam.RevokedAt)
	assert.NotNil(t, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt)

	r, err := svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "203.0.113.7"})
	require.NoError(t, err, "the retry")
	require.NoError(t, f.accepted(r.AccessToken, u.TenantID))
}
