package storetest

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
)

// adoptedFamily is family id, pending, for the AlgaPSA-issued token
// label, already rotated at t0 to label+"-next".
func adoptedFamily(id, label string) (mobileauth.TokenFamily, mobileauth.RefreshToken, mobileauth.RefreshToken) {
	f := newFamily(id, "")
	f.SessionHash = mobileauth.Hash{}
	adopted, next := newToken(label, t0), newToken(label+"-next", t0)
	adopted.RotatedAt, adopted.ReplacedBy = ptr(t0), hashPtr(label+"-next")
	return f, adopted, next
}

func createAdopted(t *testing.T, s *sqlstore.Store, id, label string) {
	t.Helper()
	f, a, n := adoptedFamily(id, label)
	require.NoError(t, s.CreateAdoptedFamily(t.Context(), f, a, n))
}

func testAdoption(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t)

	t.Run("pending family: adopted token rotated to a live successor", func(t *testing.T) {
		createAdopted(t, s, "fam-a", "alga-1")
		fam, err := s.GetFamily(ctx, "fam-a")
		require.NoError(t, err)
		assert.True(t, fam.AdoptionPending)
		assert.Nil(t, fam.RevokedAt)
		a := getToken(t, s, "alga-1")
		assert.True(t, a.AdoptionPending, "read with its family's state")
		assert.Equal(t, "fam-a", a.FamilyID)
		assert.Equal(t, "tenant-1", a.TenantID)
		require.NotNil(t, a.RotatedAt)
		assertTime(t, t0, *a.RotatedAt, "RotatedAt")
		assert.Equal(t, hashPtr("alga-1-next"), a.ReplacedBy)
		next := getToken(t, s, "alga-1-next")
		assert.Nil(t, next.RotatedAt)
		assert.Nil(t, next.RevokedAt)

		res := rotate(t, s, "alga-1", "alga-1-next", at(time.Second))
		assert.Equal(t, mobileauth.AlreadyRotated, res.Outcome, "another presentation meets it rotated")
		assert.True(t, res.Current.AdoptionPending)
		assert.False(t, res.SuccessorUsed)
	})
	t.Run("second creation of the same token conflicts, nothing written", func(t *testing.T) {
		before := countRows(t, s, "token_families")
		f, a, n := adoptedFamily("fam-a2", "alga-1")
		assert.ErrorIs(t, s.CreateAdoptedFamily(ctx, f, a, n), mobileauth.ErrConflict)
		assert.Equal(t, before, countRows(t, s, "token_families"))
		_, err := s.GetFamily(ctx, "fam-a2")
		assert.ErrorIs(t, err, mobileauth.ErrNotFound)
	})
	t.Run("the adopted token must be rotated to the successor", func(t *testing.T) {
		f, a, n := adoptedFamily("fam-bad", "alga-bad")
		a.RotatedAt = nil
		assert.Error(t, s.CreateAdoptedFamily(ctx, f, a, n))
		f, a, n = adoptedFamily("fam-bad", "alga-bad")
		a.ReplacedBy = hashPtr("elsewhere")
		assert.Error(t, s.CreateAdoptedFamily(ctx, f, a, n))
	})
	t.Run("confirm once; the family then rotates as any other", func(t *testing.T) {
		require.NoError(t, s.ConfirmAdoption(ctx, "fam-a", at(time.Second)))
		assert.ErrorIs(t, s.ConfirmAdoption(ctx, "fam-a", at(time.Second)), mobileauth.ErrNotFound)
		assert.ErrorIs(t, s.ConfirmAdoption(ctx, "never", at(time.Second)), mobileauth.ErrNotFound)
		fam, err := s.GetFamily(ctx, "fam-a")
		require.NoError(t, err)
		assert.False(t, fam.AdoptionPending)
		a := getToken(t, s, "alga-1")
		assert.False(t, a.AdoptionPending)
		require.NotNil(t, a.RotatedAt)
		assertTime(t, at(time.Second), *a.RotatedAt, "RotatedAt restamped at the confirmation")
		assert.Nil(t, getToken(t, s, "alga-1-next").RotatedAt, "the successor is untouched")
		res := rotate(t, s, "alga-1-next", "alga-1-next-next", at(2*time.Second))
		assert.Equal(t, mobileauth.Rotated, res.Outcome)
		res = rotate(t, s, "alga-1", "alga-1-next", at(3*time.Second))
		assert.True(t, res.SuccessorUsed)
	})
	t.Run("a revoked pending family reads revoked", func(t *testing.T) {
		createAdopted(t, s, "fam-c", "alga-3")
		require.NoError(t, s.RevokeFamily(ctx, "fam-c", at(time.Second)))
		assert.NotNil(t, getToken(t, s, "alga-3").RevokedAt)
		assert.NotNil(t, getToken(t, s, "alga-3-next").RevokedAt)
	})
	t.Run("reject ends a pending family only", func(t *testing.T) {
		createAdopted(t, s, "fam-r", "alga-r")
		require.NoError(t, s.RejectAdoption(ctx, "fam-r", at(time.Second)))
		fam, err := s.GetFamily(ctx, "fam-r")
		require.NoError(t, err)
		assert.False(t, fam.AdoptionPending, "settled")
		require.NotNil(t, fam.RevokedAt)
		assertTime(t, at(time.Second), *fam.RevokedAt, "RevokedAt")
		assert.NotNil(t, getToken(t, s, "alga-r").RevokedAt)
		assert.NotNil(t, getToken(t, s, "alga-r-next").RevokedAt)
		assert.ErrorIs(t, s.RejectAdoption(ctx, "fam-r", at(2*time.Second)), mobileauth.ErrNotFound, "once")
		assert.ErrorIs(t, s.ConfirmAdoption(ctx, "fam-r", at(2*time.Second)), mobileauth.ErrNotFound,
			"a rejected family cannot be confirmed afterwards")

		// A confirmed family (fam-a, above) is out of a late rejection's reach.
		assert.ErrorIs(t, s.RejectAdoption(ctx, "fam-a", at(4*time.Second)), mobileauth.ErrNotFound)
		fam, err = s.GetFamily(ctx, "fam-a")
		require.NoError(t, err)
		assert.Nil(t, fam.RevokedAt, "the confirmed family stays live")
		assert.Nil(t, getToken(t, s, "alga-1-next-next").RevokedAt)
		assert.ErrorIs(t, s.RejectAdoption(ctx, "never", at(4*time.Second)), mobileauth.ErrNotFound)
	})
	t.Run("families begun here are never pending", func(t *testing.T) {
		seedFamily(t, s, "fam-own", "sid-own", "own-1")
		fam, err := s.GetFamily(ctx, "fam-own")
		require.NoError(t, err)
		assert.False(t, fam.AdoptionPending)
		assert.False(t, getToken(t, s, "own-1").AdoptionPending)
		assert.ErrorIs(t, s.ConfirmAdoption(ctx, "fam-own", at(time.Second)), mobileauth.ErrNotFound)
		assert.ErrorIs(t, s.RejectAdoption(ctx, "fam-own", at(time.Second)), mobileauth.ErrNotFound)
		fam, err = s.GetFamily(ctx, "fam-own")
		require.NoError(t, err)
		assert.Nil(t, fam.RevokedAt)
	})
}

// testAdoptionRace: Racers concurrent creations of a family for one
// AlgaPSA-issued token: exactly one wins, every other gets ErrConflict,
// and one family holds the token.
func testAdoptionRace(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t)
	var won, lost atomic.Int64
	var unexpected atomic.Value
	winner := make([]bool, Racers)
	race(func(i int) {
		f, a, n := adoptedFamily(fmt.Sprintf("fam-%d", i), "hot")
		err := s.CreateAdoptedFamily(ctx, f, a, n)
		switch {
		case err == nil:
			won.Add(1)
			winner[i] = true
		case errors.Is(err, mobileauth.ErrConflict):
			lost.Add(1)
		default:
			unexpected.Store(err)
		}
	})
	require.Nil(t, unexpected.Load(), "only ErrConflict may fail a creation")
	t.Logf("%d concurrent adoptions of one token: %d created the family, %d conflicts", Racers, won.Load(), lost.Load())
	assert.Equal(t, int64(1), won.Load())
	assert.Equal(t, int64(Racers-1), lost.Load())
	assert.Equal(t, 1, countRows(t, s, "token_families"), "the losers left nothing behind")
	assert.Equal(t, 2, countRows(t, s, "refresh_tokens"))
	for i, w := range winner {
		if w {
			assert.Equal(t, fmt.Sprintf("fam-%d", i), getToken(t, s, "hot").FamilyID)
		}
	}
}
