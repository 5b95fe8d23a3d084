package algapsa_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

func TestFindUsersByEmail(t *testing.T) {
	sdb, db := standIn(t)
	ctx := context.Background()
	a := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com", FirstName: "Ann", LastName: "Lee"})
	b := sdb.AddUser(t, algapsatest.User{Email: "bob@example.com", Type: "client", Inactive: true})
	twin1 := sdb.AddUser(t, algapsatest.User{Email: "twin@example.com"})
	twin2 := sdb.AddUser(t, algapsatest.User{Email: "twin@example.com"})
	sdb.AddUser(t, algapsatest.User{Email: ""})

	tests := []struct {
		name  string
		email string
		want  []mobileauth.User
	}{
		{"exact address", "ann@example.com", []mobileauth.User{{TenantID: a.TenantID, ID: a.ID, Email: "ann@example.com",
			FirstName: "Ann", LastName: "Lee", Type: mobileauth.UserInternal, Active: true}}},
		{"upper-case address is lowered", "ANN@Example.COM", []mobileauth.User{{TenantID: a.TenantID, ID: a.ID,
			Email: "ann@example.com", FirstName: "Ann", LastName: "Lee", Type: mobileauth.UserInternal, Active: true}}},
		{"inactive client is returned as such", "bob@example.com", []mobileauth.User{{TenantID: b.TenantID, ID: b.ID,
			Email: "bob@example.com", Type: mobileauth.UserClient, Active: false}}},
		{"unknown address", "nobody@example.com", nil},
		{"empty address matches nothing", "", nil},
		{"like wildcards are literal", "%@example.com", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.FindUsersByEmail(ctx, tt.email)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	t.Run("an address in two tenants gives both", func(t *testing.T) {
		got, err := db.FindUsersByEmail(ctx, "twin@example.com")
		require.NoError(t, err)
		require.Len(t, got, 2)
		ids := []string{got[0].ID, got[1].ID}
		assert.ElementsMatch(t, []string{twin1.ID, twin2.ID}, ids)
	})
}

func TestGetUserAndTenantAndMember(t *testing.T) {
	sdb, db := standIn(t)
	ctx := context.Background()
	pro := sdb.AddUser(t, algapsatest.User{Email: "pro@example.com", FirstName: "Pat"})
	solo := sdb.AddUser(t, algapsatest.User{TenantID: sdb.AddTenant(t, ptr("solo")), Email: "solo@example.com"})
	ess := sdb.AddUser(t, algapsatest.User{TenantID: sdb.AddTenant(t, ptr("essentials")), Email: "ess@example.com"})
	prem := sdb.AddUser(t, algapsatest.User{TenantID: sdb.AddTenant(t, ptr("premium")), Email: "prem@example.com"})
	odd := sdb.AddUser(t, algapsatest.User{TenantID: sdb.AddTenant(t, ptr("gold")), Email: "odd@example.com"})
	susp := sdb.AddUser(t, algapsatest.User{TenantID: sdb.AddTenant(t, ptr("pro")), Email: "susp@example.com"})
	sdb.SetSuspended(t, susp.TenantID, true)

	tier := func(t mobileauth.Tier) *mobileauth.Tier { return &t }
	tests := []struct {
		name      string
		u         algapsatest.User
		plan      *mobileauth.Tier
		suspended bool
	}{
		{"null plan reads as no plan (pro)", pro, nil, false},
		{"solo", solo, tier(mobileauth.TierSolo), false},
		{"essentials", ess, tier(mobileauth.TierEssentials), false},
		{"premium counts as pro", prem, tier(mobileauth.TierPro), false},
		{"unknown plan reads as no plan, as AlgaPSA's resolveTier", odd, nil, false},
		{"suspended tenant", susp, tier(mobileauth.TierPro), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ten, err := db.GetTenant(ctx, tt.u.TenantID)
			require.NoError(t, err)
			assert.Equal(t, mobileauth.Tenant{ID: tt.u.TenantID, Plan: tt.plan, Suspended: tt.suspended}, ten)
			m, err := db.GetMember(ctx, tt.u.TenantID, tt.u.ID)
			require.NoError(t, err)
			require.NotNil(t, m.User)
			assert.Equal(t, tt.u.ID, m.User.ID)
			assert.Equal(t, tt.u.Email, m.User.Email)
			assert.Equal(t, mobileauth.Tenant{ID: tt.u.TenantID, Plan: tt.plan, Suspended: tt.suspended}, m.Tenant)
			u, err := db.GetUser(ctx, tt.u.TenantID, tt.u.ID)
			require.NoError(t, err)
			assert.Equal(t, *m.User, u)
		})
	}

	t.Run("user columns", func(t *testing.T) {
		u, err := db.GetUser(ctx, pro.TenantID, pro.ID)
		require.NoError(t, err)
		assert.Equal(t, mobileauth.User{TenantID: pro.TenantID, ID: pro.ID, Email: "pro@example.com", FirstName: "Pat",
			Type: mobileauth.UserInternal, Active: true}, u)
		sdb.SetUserInactive(t, pro.TenantID, pro.ID, true)
		sdb.SetUserType(t, pro.TenantID, pro.ID, "client")
		u, err = db.GetUser(ctx, pro.TenantID, pro.ID)
		require.NoError(t, err)
		assert.False(t, u.Active)
		assert.Equal(t, mobileauth.UserClient, u.Type)
	})

	absent := uuid.NewString()
	for _, tc := range []struct{ name, tenant, user string }{
		{"unknown user", pro.TenantID, absent},
		{"user of another tenant", solo.TenantID, pro.ID},
		{"not a uuid", "x'; DROP TABLE users; --", pro.ID},
		{"empty ids", "", ""},
	} {
		t.Run("absent: "+tc.name, func(t *testing.T) {
			_, err := db.GetUser(ctx, tc.tenant, tc.user)
			assert.ErrorIs(t, err, mobileauth.ErrNotFound)
			m, err := db.GetMember(ctx, tc.tenant, tc.user)
			require.NoError(t, err)
			assert.Nil(t, m.User)
		})
	}
	t.Run("absent tenant", func(t *testing.T) {
		_, err := db.GetTenant(ctx, absent)
		assert.ErrorIs(t, err, mobileauth.ErrNotFound)
		_, err = db.GetTenant(ctx, "nope")
		assert.ErrorIs(t, err, mobileauth.ErrNotFound)
	})
}

func TestPing(t *testing.T) {
	_, db := standIn(t)
	require.NoError(t, db.Ping(context.Background()))
}
