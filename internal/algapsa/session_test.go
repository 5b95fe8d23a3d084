package algapsa_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa"
	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

func TestCheckWebSession(t *testing.T) {
	sdb, db := standIn(t)
	ctx := context.Background()

	type fixture struct {
		user    algapsatest.User
		session string
		claimed mobileauth.UserType
		userID  string
		tenant  string
	}
	valid := func(t *testing.T) fixture {
		u := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com", FirstName: "Ann"})
		return fixture{user: u, session: sdb.AddSession(t, u.TenantID, u.ID, time.Hour), claimed: mobileauth.UserInternal,
			userID: u.ID, tenant: u.TenantID}
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, f *fixture)
		want  error
	}{
		{"valid session", func(*testing.T, *fixture) {}, nil},
		{"upper-case ids are the same uuids", func(_ *testing.T, f *fixture) {
			f.userID, f.session, f.tenant = strings.ToUpper(f.userID), strings.ToUpper(f.session), strings.ToUpper(f.tenant)
		}, nil},
		{"unknown session", func(_ *testing.T, f *fixture) { f.session = uuid.NewString() }, algapsa.ErrSessionUnknown},
		{"session id not a uuid", func(_ *testing.T, f *fixture) { f.session = "abc" }, algapsa.ErrSessionUnknown},
		{"session of another tenant", func(t *testing.T, f *fixture) { f.tenant = sdb.AddTenant(t, nil) }, algapsa.ErrSessionUnknown},
		{"revoked session", func(t *testing.T, f *fixture) { sdb.RevokeSession(t, f.tenant, f.session) }, algapsa.ErrSessionRevoked},
		{"expired session row", func(t *testing.T, f *fixture) {
			f.session = sdb.AddSession(t, f.tenant, f.user.ID, -time.Second)
		}, algapsa.ErrSessionExpired},
		{"session row without expiry", func(t *testing.T, f *fixture) {
			sdb.Exec(t, "UPDATE sessions SET expires_at = NULL WHERE session_id = $1", f.session)
		}, algapsa.ErrSessionExpired},
		{"session of another user", func(t *testing.T, f *fixture) {
			other := sdb.AddUser(t, algapsatest.User{TenantID: f.tenant, Email: "other@example.com"})
			f.userID = other.ID
		}, algapsa.ErrSessionOtherUser},
		{"user made inactive", func(t *testing.T, f *fixture) { sdb.SetUserInactive(t, f.tenant, f.user.ID, true) }, algapsa.ErrUserInactive},
		{"user turned into a client", func(t *testing.T, f *fixture) { sdb.SetUserType(t, f.tenant, f.user.ID, "client") }, algapsa.ErrUserTypeChanged},
		{"claim says client, user is internal", func(_ *testing.T, f *fixture) { f.claimed = mobileauth.UserClient }, algapsa.ErrUserTypeChanged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := valid(t)
			tt.setup(t, &f)
			u, err := db.CheckWebSession(ctx, f.tenant, f.session, f.userID, f.claimed)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
				assert.ErrorIs(t, err, mobileauth.ErrNotFound)
				assert.Equal(t, mobileauth.User{}, u)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, mobileauth.User{TenantID: f.user.TenantID, ID: f.user.ID, Email: "ann@example.com", FirstName: "Ann",
				Type: mobileauth.UserInternal, Active: true}, u)
		})
	}
}

// The exchange's re-check reads the tenant with the session, as GetMember
// would, so it need not ask again.
func TestCheckWebSessionMemberReadsTheTenant(t *testing.T) {
	sdb, db := standIn(t)
	ctx := context.Background()
	u := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com", FirstName: "Ann"})
	sid := sdb.AddSession(t, u.TenantID, u.ID, time.Hour)
	solo := "solo"
	sdb.SetPlan(t, u.TenantID, &solo)
	sdb.SetSuspended(t, u.TenantID, true)

	m, err := db.CheckWebSessionMember(ctx, u.TenantID, sid, u.ID, mobileauth.UserInternal)
	require.NoError(t, err)
	want, err := db.GetMember(ctx, u.TenantID, u.ID)
	require.NoError(t, err)
	assert.Equal(t, want, m)
	require.NotNil(t, m.Tenant.Plan)
	assert.Equal(t, mobileauth.Tier("solo"), *m.Tenant.Plan)
	assert.True(t, m.Tenant.Suspended)

	sdb.RevokeSession(t, u.TenantID, sid)
	m, err = db.CheckWebSessionMember(ctx, u.TenantID, sid, u.ID, mobileauth.UserInternal)
	assert.ErrorIs(t, err, algapsa.ErrSessionRevoked)
	assert.Equal(t, mobileauth.Member{}, m)
}
