package appliance

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa"
	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/authjs"
	"github.com/nineminds/alga-mobile-auth/internal/authjs/authjstest"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// The source against AlgaPSA's real rows is tested in authflow (with the
// stand-in on PostgreSQL); these cover what needs no database.

const secret = "websession-test-secret-0123456789abcdef"

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// sessions answers CheckWebSessionMember with a fixed result and records
// calls.
type sessions struct {
	user   mobileauth.User
	tenant mobileauth.Tenant
	err    func(userType mobileauth.UserType) error
	calls  []mobileauth.UserType
}

func (s *sessions) CheckWebSessionMember(_ context.Context, _, _, _ string, ut mobileauth.UserType) (mobileauth.Member, error) {
	s.calls = append(s.calls, ut)
	if err := s.err(ut); err != nil {
		return mobileauth.Member{}, err
	}
	u := s.user
	u.Type = ut
	return mobileauth.Member{User: &u, Tenant: s.tenant}, nil
}

func source(t *testing.T, s Sessions) *WebAppSessions {
	t.Helper()
	dec, err := authjs.NewDecoder(secret, authjs.SecureCookieName, func() time.Time { return now })
	require.NoError(t, err)
	w, err := NewWebAppSessions(dec, s, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return w
}

func cookie(t *testing.T) map[string]string {
	t.Helper()
	c, err := authjstest.Cookies(authjstest.Token{Secret: secret, CookieName: authjs.SecureCookieName, Now: now,
		Claims: map[string]any{"id": "u1", "tenant": "t1", "user_type": "internal", "session_id": "s1"}})
	require.NoError(t, err)
	return c
}

func TestSessionOutcomes(t *testing.T) {
	down := errors.New("connection refused")
	for _, tc := range []struct {
		name      string
		err       func(mobileauth.UserType) error
		wantErr   error // nil: a session
		wantType  mobileauth.UserType
		wantCalls int
	}{
		{name: "live session", err: func(mobileauth.UserType) error { return nil }, wantType: mobileauth.UserInternal, wantCalls: 1},
		{name: "revoked is no session", err: func(mobileauth.UserType) error { return algapsa.ErrSessionRevoked }, wantErr: authflow.ErrNoSession, wantCalls: 1},
		{name: "database down is an error, not signed out", err: func(mobileauth.UserType) error { return down }, wantErr: down, wantCalls: 1},
		{name: "made a client: the session with a client user", wantType: mobileauth.UserClient, wantCalls: 2,
			err: func(ut mobileauth.UserType) error {
				if ut == mobileauth.UserInternal {
					return algapsa.ErrUserTypeChanged
				}
				return nil
			}},
		{name: "made a client and inactive: no session", wantErr: authflow.ErrNoSession, wantCalls: 2,
			err: func(ut mobileauth.UserType) error {
				if ut == mobileauth.UserInternal {
					return algapsa.ErrUserTypeChanged
				}
				return algapsa.ErrUserInactive
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &sessions{user: mobileauth.User{TenantID: "t1", ID: "u1", Active: true}, err: tc.err}
			info, err := source(t, s).Session(context.Background(), cookie(t), now)
			assert.Len(t, s.calls, tc.wantCalls)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantType, info.User.Type)
			assert.Equal(t, SourceAuthJS, info.Source)
			assert.Equal(t, "t1/s1", info.Ref)
		})
	}
}

func TestSessionWithoutOrWithBadCookieAsksNoDatabase(t *testing.T) {
	s := &sessions{err: func(mobileauth.UserType) error { return nil }}
	w := source(t, s)
	_, err := w.Session(context.Background(), nil, now)
	assert.ErrorIs(t, err, authflow.ErrNoSession)
	_, err = w.Session(context.Background(), map[string]string{authjs.SecureCookieName: "not.a.jwe.at.all"}, now)
	assert.ErrorIs(t, err, authflow.ErrNoSession)
	_, err = w.Session(context.Background(), cookie(t), now.Add(authjstest.DefaultMaxAge+time.Minute))
	assert.ErrorIs(t, err, authflow.ErrNoSession, "expired cookie")
	assert.Empty(t, s.calls)
}

func TestStillValid(t *testing.T) {
	ok := &sessions{err: func(mobileauth.UserType) error { return nil }}
	valid, err := source(t, ok).StillValid(context.Background(), "t1/s1", "t1", "u1", now)
	require.NoError(t, err)
	assert.True(t, valid)
	assert.Equal(t, []mobileauth.UserType{mobileauth.UserInternal}, ok.calls, "OTTs go only to internal users")

	pro := mobileauth.TierPro
	withTenant := &sessions{user: mobileauth.User{ID: "u1", TenantID: "t1", Active: true},
		tenant: mobileauth.Tenant{ID: "t1", Plan: &pro, Suspended: true}, err: func(mobileauth.UserType) error { return nil }}
	m, valid, err := source(t, withTenant).StillValidMember(context.Background(), "t1/s1", "t1", "u1", now)
	require.NoError(t, err)
	assert.True(t, valid)
	require.NotNil(t, m.User)
	assert.Equal(t, "u1", m.User.ID)
	assert.Equal(t, withTenant.tenant, m.Tenant, "the tenant read with the session is handed on")

	for _, ref := range []string{"", "s1", "t2/s1"} {
		valid, err := source(t, ok).StillValid(context.Background(), ref, "t1", "u1", now)
		require.NoError(t, err)
		assert.False(t, valid, "ref %q", ref)
	}
	gone := &sessions{err: func(mobileauth.UserType) error { return algapsa.ErrSessionRevoked }}
	valid, err = source(t, gone).StillValid(context.Background(), "t1/s1", "t1", "u1", now)
	require.NoError(t, err)
	assert.False(t, valid)
	down := &sessions{err: func(mobileauth.UserType) error { return errors.New("timeout") }}
	_, err = source(t, down).StillValid(context.Background(), "t1/s1", "t1", "u1", now)
	assert.Error(t, err)
}
