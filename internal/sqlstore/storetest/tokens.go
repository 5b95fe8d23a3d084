package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

func newOTT(label string) mobileauth.OneTimeToken {
	return mobileauth.OneTimeToken{
		Hash:          hash(label),
		TenantID:      "tenant-1",
		UserID:        "user-1",
		SessionHash:   hash("session-" + label),
		State:         "state-" + label,
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CreatedAt:     t0,
		ExpiresAt:     at(time.Minute),
	}
}

func testOTT(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t)
	ott := newOTT("ott")
	require.NoError(t, s.CreateOTT(ctx, ott))

	t.Run("refuses a duplicate hash", func(t *testing.T) {
		assert.ErrorIs(t, s.CreateOTT(ctx, ott), mobileauth.ErrConflict)
	})
	t.Run("consumes once and returns every field", func(t *testing.T) {
		got, err := s.ConsumeOTT(ctx, ott.Hash, at(30*time.Second))
		require.NoError(t, err)
		want := ott
		want.ConsumedAt = ptr(at(30 * time.Second))
		assertOTT(t, want, got.OneTimeToken)
		assert.False(t, got.SessionValid, "its session does not exist")

		_, err = s.ConsumeOTT(ctx, ott.Hash, at(31*time.Second))
		assert.ErrorIs(t, err, mobileauth.ErrNotFound, "second consumption")
	})
	t.Run("release undoes only the consumption it names", func(t *testing.T) {
		o := newOTT("released")
		require.NoError(t, s.CreateOTT(ctx, o))
		_, err := s.ConsumeOTT(ctx, o.Hash, at(10*time.Second))
		require.NoError(t, err)
		assert.ErrorIs(t, s.ReleaseOTT(ctx, o.Hash, at(11*time.Second)), mobileauth.ErrNotFound,
			"another consumption's stamp")
		require.NoError(t, s.ReleaseOTT(ctx, o.Hash, at(10*time.Second)))
		got, err := s.ConsumeOTT(ctx, o.Hash, at(12*time.Second))
		require.NoError(t, err, "consumable again after the release")
		assert.Equal(t, o.State, got.State)
		_, err = s.ConsumeOTT(ctx, o.Hash, at(13*time.Second))
		assert.ErrorIs(t, err, mobileauth.ErrNotFound, "and still only once")
		assert.ErrorIs(t, s.ReleaseOTT(ctx, hash("nobody"), at(10*time.Second)), mobileauth.ErrNotFound)
	})
	t.Run("refuses an expired token", func(t *testing.T) {
		o := newOTT("expired")
		require.NoError(t, s.CreateOTT(ctx, o))
		_, err := s.ConsumeOTT(ctx, o.Hash, o.ExpiresAt)
		assert.ErrorIs(t, err, mobileauth.ErrNotFound, "at expiry")
		got, err := s.ConsumeOTT(ctx, o.Hash, o.ExpiresAt.Add(-time.Millisecond))
		require.NoError(t, err, "a millisecond before expiry")
		assert.Equal(t, o.State, got.State)
	})
	t.Run("refuses an unknown token", func(t *testing.T) {
		_, err := s.ConsumeOTT(ctx, hash("nobody"), t0)
		assert.ErrorIs(t, err, mobileauth.ErrNotFound)
	})
	t.Run("keeps an empty code challenge", func(t *testing.T) {
		o := newOTT("no-pkce")
		o.CodeChallenge = ""
		require.NoError(t, s.CreateOTT(ctx, o))
		got, err := s.ConsumeOTT(ctx, o.Hash, t0)
		require.NoError(t, err)
		assert.Empty(t, got.CodeChallenge)
	})
}

// testOTTSession checks that consuming an OTT reports whether the web
// session that issued it is still valid at that moment.
func testOTTSession(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t)
	for _, tc := range []struct {
		name    string
		session *mobileauth.WebSession // nil: none stored
		revoke  bool
		valid   bool
	}{
		{name: "live session", session: &mobileauth.WebSession{ExpiresAt: at(time.Hour)}, valid: true},
		{name: "session ending a millisecond later", session: &mobileauth.WebSession{ExpiresAt: at(10*time.Second + time.Millisecond)}, valid: true},
		{name: "session ended at that moment", session: &mobileauth.WebSession{ExpiresAt: at(10 * time.Second)}},
		{name: "signed-out session", session: &mobileauth.WebSession{ExpiresAt: at(time.Hour)}, revoke: true},
		{name: "no session"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOTT(tc.name)
			require.NoError(t, s.CreateOTT(ctx, o))
			if tc.session != nil {
				ws := *tc.session
				ws.IDHash, ws.TenantID, ws.UserID, ws.Provider, ws.CreatedAt = o.SessionHash, o.TenantID, o.UserID, "google", t0
				require.NoError(t, s.CreateSession(ctx, ws))
				if tc.revoke {
					require.NoError(t, s.RevokeSession(ctx, ws.IDHash, at(5*time.Second)))
				}
			}
			got, err := s.ConsumeOTT(ctx, o.Hash, at(10*time.Second))
			require.NoError(t, err)
			assert.Equal(t, tc.valid, got.SessionValid)
			assert.Equal(t, o.SessionHash, got.SessionHash)
		})
	}
}

func assertOTT(t *testing.T, want, got mobileauth.OneTimeToken) {
	t.Helper()
	assert.Equal(t, want.Hash, got.Hash)
	assert.Equal(t, want.TenantID, got.TenantID)
	assert.Equal(t, want.UserID, got.UserID)
	assert.Equal(t, want.SessionHash, got.SessionHash)
	assert.Equal(t, want.State, got.State)
	assert.Equal(t, want.CodeChallenge, got.CodeChallenge)
	assertTime(t, want.CreatedAt, got.CreatedAt, "CreatedAt")
	assertTime(t, want.ExpiresAt, got.ExpiresAt, "ExpiresAt")
	assertTimePtr(t, want.ConsumedAt, got.ConsumedAt, "ConsumedAt")
}

func assertTime(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	assert.Truef(t, want.Equal(got), "%s: want %v, got %v", what, want, got)
	assert.Equalf(t, time.UTC, got.Location(), "%s comes back in UTC", what)
}

func assertTimePtr(t *testing.T, want, got *time.Time, what string) {
	t.Helper()
	if want == nil || got == nil {
		assert.Equalf(t, want == nil, got == nil, "%s: want %v, got %v", what, want, got)
		return
	}
	assertTime(t, *want, *got, what)
}

func testSessions(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t)
	ws := mobileauth.WebSession{
		IDHash: hash("sid"), TenantID: "tenant-1", UserID: "user-1", Provider: "google",
		CreatedAt: t0, ExpiresAt: at(8 * time.Hour),
	}
	require.NoError(t, s.CreateSession(ctx, ws))

	t.Run("round-trips", func(t *testing.T) {
		got, err := s.GetSession(ctx, ws.IDHash)
		require.NoError(t, err)
		assert.Equal(t, ws.IDHash, got.IDHash)
		assert.Equal(t, ws.TenantID, got.TenantID)
		assert.Equal(t, ws.UserID, got.UserID)
		assert.Equal(t, ws.Provider, got.Provider)
		assertTime(t, ws.CreatedAt, got.CreatedAt, "CreatedAt")
		assertTime(t, ws.ExpiresAt, got.ExpiresAt, "ExpiresAt")
		assert.Nil(t, got.RevokedAt)
		assert.True(t, got.Valid(at(time.Hour)))
	})
	t.Run("refuses a duplicate", func(t *testing.T) {
		assert.ErrorIs(t, s.CreateSession(ctx, ws), mobileauth.ErrConflict)
	})
	t.Run("unknown is not found", func(t *testing.T) {
		_, err := s.GetSession(ctx, hash("nobody"))
		assert.ErrorIs(t, err, mobileauth.ErrNotFound)
		assert.ErrorIs(t, s.RevokeSession(ctx, hash("nobody"), t0), mobileauth.ErrNotFound)
	})
	t.Run("revocation keeps the first time", func(t *testing.T) {
		require.NoError(t, s.RevokeSession(ctx, ws.IDHash, at(time.Hour)))
		require.NoError(t, s.RevokeSession(ctx, ws.IDHash, at(2*time.Hour)), "idempotent")
		got, err := s.GetSession(ctx, ws.IDHash)
		require.NoError(t, err)
		assertTimePtr(t, ptr(at(time.Hour)), got.RevokedAt, "RevokedAt")
		assert.False(t, got.Valid(at(time.Hour)))
	})
}
