package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
)

// refreshTTL is the lifetime of the suite's refresh tokens.
const refreshTTL = 30 * 24 * time.Hour

func newFamily(id, session string) mobileauth.TokenFamily {
	return mobileauth.TokenFamily{
		ID: id, TenantID: "tenant-1", UserID: "user-1", SessionHash: hash(session),
		Device:    mobileauth.Device{Platform: "ios", AppVersion: "1.2.3", BuildVersion: "45", DeviceID: "dev-" + id},
		CreatedAt: t0,
	}
}

// newToken is a refresh token to be created at created; family, tenant and
// user are left for the store to inherit.
func newToken(label string, created time.Time) mobileauth.RefreshToken {
	return mobileauth.RefreshToken{Hash: hash(label), CreatedAt: created, ExpiresAt: created.Add(refreshTTL)}
}

// seedFamily creates family id (of session) whose first token is label.
func seedFamily(t *testing.T, s *sqlstore.Store, id, session, label string) {
	t.Helper()
	require.NoError(t, s.CreateFamily(t.Context(), newFamily(id, session), newToken(label, t0)))
}

func getToken(t *testing.T, s *sqlstore.Store, label string) mobileauth.RefreshToken {
	t.Helper()
	rt, err := s.GetRefreshToken(t.Context(), hash(label))
	require.NoError(t, err, "refresh token %s", label)
	return rt
}

func testFamilies(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t)
	seedFamily(t, s, "fam-1", "sid-1", "rt-1")

	t.Run("family round-trips", func(t *testing.T) {
		got, err := s.GetFamily(ctx, "fam-1")
		require.NoError(t, err)
		want := newFamily("fam-1", "sid-1")
		assert.Equal(t, want.ID, got.ID)
		assert.Equal(t, want.TenantID, got.TenantID)
		assert.Equal(t, want.UserID, got.UserID)
		assert.Equal(t, want.SessionHash, got.SessionHash)
		assert.Equal(t, want.Device, got.Device)
		assertTime(t, want.CreatedAt, got.CreatedAt, "CreatedAt")
		assert.Nil(t, got.RevokedAt)
	})
	t.Run("first token inherits the family", func(t *testing.T) {
		rt := getToken(t, s, "rt-1")
		assert.Equal(t, hash("rt-1"), rt.Hash)
		assert.Equal(t, "fam-1", rt.FamilyID)
		assert.Equal(t, "tenant-1", rt.TenantID)
		assert.Equal(t, "user-1", rt.UserID)
		assertTime(t, t0, rt.CreatedAt, "CreatedAt")
		assertTime(t, t0.Add(refreshTTL), rt.ExpiresAt, "ExpiresAt")
		assert.Nil(t, rt.RotatedAt)
		assert.Nil(t, rt.ReplacedBy)
		assert.Nil(t, rt.RevokedAt)
	})
	t.Run("refuses a duplicate family or token, keeping nothing", func(t *testing.T) {
		err := s.CreateFamily(ctx, newFamily("fam-1", "sid-1"), newToken("rt-other", t0))
		assert.ErrorIs(t, err, mobileauth.ErrConflict)
		err = s.CreateFamily(ctx, newFamily("fam-2", "sid-1"), newToken("rt-1", t0))
		assert.ErrorIs(t, err, mobileauth.ErrConflict)
		_, err = s.GetFamily(ctx, "fam-2")
		assert.ErrorIs(t, err, mobileauth.ErrNotFound, "the family of a failed create is rolled back")
	})
	t.Run("refuses a first token of another family", func(t *testing.T) {
		rt := newToken("rt-x", t0)
		rt.FamilyID = "fam-other"
		assert.Error(t, s.CreateFamily(ctx, newFamily("fam-3", "sid-1"), rt))
	})
	t.Run("unknown is not found", func(t *testing.T) {
		_, err := s.GetFamily(ctx, "nope")
		assert.ErrorIs(t, err, mobileauth.ErrNotFound)
		_, err = s.GetRefreshToken(ctx, hash("nope"))
		assert.ErrorIs(t, err, mobileauth.ErrNotFound)
	})
}

func rotate(t *testing.T, s *sqlstore.Store, old, succ string, now time.Time) mobileauth.RotateResult {
	t.Helper()
	res, err := s.RotateRefreshToken(t.Context(), hash(old), hash(succ), now.Add(refreshTTL), now)
	require.NoError(t, err, "rotate %s -> %s", old, succ)
	return res
}

func testRotation(t *testing.T, open Opener) {
	ctx := t.Context()

	t.Run("rotates a current token to its successor", func(t *testing.T) {
		s := open(t)
		seedFamily(t, s, "fam", "sid", "a")
		res := rotate(t, s, "a", "b", at(time.Minute))
		assert.Equal(t, mobileauth.Rotated, res.Outcome)
		assert.False(t, res.SuccessorUsed)
		assert.Equal(t, hash("a"), res.Current.Hash)
		assertTimePtr(t, ptr(at(time.Minute)), res.Current.RotatedAt, "RotatedAt")
		assert.Equal(t, hashPtr("b"), res.Current.ReplacedBy)

		b := getToken(t, s, "b")
		assert.Equal(t, "fam", b.FamilyID, "successor inherits the family")
		assert.Equal(t, "tenant-1", b.TenantID)
		assert.Equal(t, "user-1", b.UserID)
		assert.Nil(t, b.RotatedAt)
		a := getToken(t, s, "a")
		assert.Equal(t, hashPtr("b"), a.ReplacedBy)
	})
	t.Run("a second rotation reports the first and inserts nothing", func(t *testing.T) {
		s := open(t)
		seedFamily(t, s, "fam", "sid", "a")
		rotate(t, s, "a", "b", at(time.Minute))
		res := rotate(t, s, "a", "b2", at(time.Minute+time.Second))
		assert.Equal(t, mobileauth.AlreadyRotated, res.Outcome)
		assert.False(t, res.SuccessorUsed, "b is unused")
		assertTimePtr(t, ptr(at(time.Minute)), res.Current.RotatedAt, "RotatedAt of the first rotation")
		assert.Equal(t, hashPtr("b"), res.Current.ReplacedBy)
		_, err := s.GetRefreshToken(ctx, hash("b2"))
		assert.ErrorIs(t, err, mobileauth.ErrNotFound, "no second successor")
	})
	t.Run("says when the successor was rotated since", func(t *testing.T) {
		s := open(t)
		seedFamily(t, s, "fam", "sid", "a")
		rotate(t, s, "a", "b", at(time.Minute))
		rotate(t, s, "b", "c", at(2*time.Minute))
		res := rotate(t, s, "a", "x", at(3*time.Minute))
		assert.Equal(t, mobileauth.AlreadyRotated, res.Outcome)
		assert.True(t, res.SuccessorUsed)
		assert.Nil(t, res.Current.RevokedAt)
	})
	t.Run("says when the successor was revoked since", func(t *testing.T) {
		s := open(t)
		seedFamily(t, s, "fam", "sid", "a")
		rotate(t, s, "a", "b", at(time.Minute))
		require.NoError(t, s.RevokeFamily(ctx, "fam", at(2*time.Minute)))
		res := rotate(t, s, "a", "x", at(3*time.Minute))
		assert.Equal(t, mobileauth.AlreadyRotated, res.Outcome)
		assert.True(t, res.SuccessorUsed)
		assertTimePtr(t, ptr(at(2*time.Minute)), res.Current.RevokedAt, "RevokedAt")
	})
	t.Run("does not rotate a revoked token", func(t *testing.T) {
		s := open(t)
		seedFamily(t, s, "fam", "sid", "a")
		require.NoError(t, s.RevokeFamily(ctx, "fam", at(time.Minute)))
		res := rotate(t, s, "a", "b", at(2*time.Minute))
		assert.Equal(t, mobileauth.AlreadyRotated, res.Outcome)
		assert.Nil(t, res.Current.RotatedAt, "refused, not rotated")
		assertTimePtr(t, ptr(at(time.Minute)), res.Current.RevokedAt, "RevokedAt")
		assert.False(t, res.SuccessorUsed)
		_, err := s.GetRefreshToken(ctx, hash("b"))
		assert.ErrorIs(t, err, mobileauth.ErrNotFound)
	})
	t.Run("does not rotate a token whose family alone is revoked", func(t *testing.T) {
		// A successor inserted while another replica revoked the family
		// can miss the token-level stamp: the family's stamp must suffice.
		s := open(t)
		seedFamily(t, s, "fam", "sid", "a")
		_, err := s.DB().ExecContext(ctx, "UPDATE token_families SET revoked_at = created_at WHERE id = 'fam'")
		require.NoError(t, err)
		require.Zero(t, countRows(t, s, "refresh_tokens WHERE revoked_at IS NOT NULL"), "the token row is not revoked")
		res := rotate(t, s, "a", "b", at(time.Minute))
		assert.Equal(t, mobileauth.AlreadyRotated, res.Outcome)
		assert.Nil(t, res.Current.RotatedAt, "refused, not rotated")
		assertTimePtr(t, ptr(t0), res.Current.RevokedAt, "RevokedAt is the family's")
		_, err = s.GetRefreshToken(ctx, hash("b"))
		assert.ErrorIs(t, err, mobileauth.ErrNotFound, "no successor")
	})
	t.Run("does not rotate an expired token", func(t *testing.T) {
		s := open(t)
		seedFamily(t, s, "fam", "sid", "a")
		expiry := t0.Add(refreshTTL)
		res := rotate(t, s, "a", "b", expiry)
		assert.Equal(t, mobileauth.AlreadyRotated, res.Outcome)
		assert.Nil(t, res.Current.RotatedAt, "refused, not rotated")
		assert.Nil(t, res.Current.RevokedAt)
		assertTime(t, expiry, res.Current.ExpiresAt, "ExpiresAt")
		res = rotate(t, s, "a", "b", expiry.Add(-time.Millisecond))
		assert.Equal(t, mobileauth.Rotated, res.Outcome, "a millisecond before expiry")
	})
	t.Run("unknown is not found", func(t *testing.T) {
		s := open(t)
		_, err := s.RotateRefreshToken(ctx, hash("nope"), hash("b"), t0.Add(refreshTTL), t0)
		assert.ErrorIs(t, err, mobileauth.ErrNotFound)
	})
	t.Run("a clashing successor changes nothing", func(t *testing.T) {
		s := open(t)
		seedFamily(t, s, "fam", "sid", "a")
		seedFamily(t, s, "fam2", "sid", "taken")
		_, err := s.RotateRefreshToken(ctx, hash("a"), hash("taken"), at(time.Minute).Add(refreshTTL), at(time.Minute))
		assert.ErrorIs(t, err, mobileauth.ErrConflict)
		assert.Nil(t, getToken(t, s, "a").RotatedAt, "the claim is rolled back")
	})
}

func testRevocation(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t)
	seedFamily(t, s, "fam-a", "sid-1", "a1")
	rotate(t, s, "a1", "a2", at(time.Minute))
	seedFamily(t, s, "fam-b", "sid-1", "b1")
	seedFamily(t, s, "fam-c", "sid-2", "c1")

	t.Run("revokes a family and all its tokens, keeping the first time", func(t *testing.T) {
		require.NoError(t, s.RevokeFamily(ctx, "fam-a", at(time.Hour)))
		require.NoError(t, s.RevokeFamily(ctx, "fam-a", at(2*time.Hour)), "idempotent")
		f, err := s.GetFamily(ctx, "fam-a")
		require.NoError(t, err)
		assertTimePtr(t, ptr(at(time.Hour)), f.RevokedAt, "family RevokedAt")
		for _, label := range []string{"a1", "a2"} {
			assertTimePtr(t, ptr(at(time.Hour)), getToken(t, s, label).RevokedAt, label+" RevokedAt")
		}
		assert.Nil(t, getToken(t, s, "b1").RevokedAt, "other families untouched")
	})
	t.Run("unknown family is not found", func(t *testing.T) {
		assert.ErrorIs(t, s.RevokeFamily(ctx, "nope", t0), mobileauth.ErrNotFound)
	})
	t.Run("revokes every family of a session", func(t *testing.T) {
		require.NoError(t, s.RevokeSessionFamilies(ctx, hash("sid-1"), at(3*time.Hour)))
		require.NoError(t, s.RevokeSessionFamilies(ctx, hash("sid-1"), at(4*time.Hour)), "idempotent")
		require.NoError(t, s.RevokeSessionFamilies(ctx, hash("sid-none"), at(4*time.Hour)), "no families")
		fa, err := s.GetFamily(ctx, "fam-a")
		require.NoError(t, err)
		assertTimePtr(t, ptr(at(time.Hour)), fa.RevokedAt, "fam-a keeps its first revocation")
		fb, err := s.GetFamily(ctx, "fam-b")
		require.NoError(t, err)
		assertTimePtr(t, ptr(at(3*time.Hour)), fb.RevokedAt, "fam-b")
		assertTimePtr(t, ptr(at(3*time.Hour)), getToken(t, s, "b1").RevokedAt, "b1")
		fc, err := s.GetFamily(ctx, "fam-c")
		require.NoError(t, err)
		assert.Nil(t, fc.RevokedAt, "another session's family")
		assert.Nil(t, getToken(t, s, "c1").RevokedAt)
	})
	t.Run("lists families revoked since a time", func(t *testing.T) {
		for _, tc := range []struct {
			since time.Time
			want  []string
		}{
			{t0, []string{"fam-a", "fam-b"}},
			{at(time.Hour), []string{"fam-a", "fam-b"}},
			{at(time.Hour + time.Millisecond), []string{"fam-b"}},
			{at(3*time.Hour + time.Millisecond), nil},
		} {
			got, err := s.RevokedFamiliesSince(ctx, tc.since)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got, "since %v", tc.since)
		}
	})
}

// countRows counts a table's rows (no placeholders, so it runs on either
// dialect unchanged).
func countRows(t *testing.T, s *sqlstore.Store, table string) int {
	t.Helper()
	var n int
	require.NoError(t, s.DB().QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n))
	return n
}
