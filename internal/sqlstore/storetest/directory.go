package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

func user(tenant, id, email string) mobileauth.User {
	return mobileauth.User{
		TenantID: tenant, ID: id, Email: email, FirstName: "Ada", LastName: "Lovelace",
		Type: mobileauth.UserInternal, Active: true, CreatedAt: t0,
	}
}

func testDirectory(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t)
	require.NoError(t, s.AddUser(ctx, user("t1", "u1", "Ada@Example.COM")))
	require.NoError(t, s.AddUser(ctx, user("t2", "u9", "ada@example.com")), "same e-mail, other tenant")
	client := user("t1", "u2", "bob@example.com")
	client.Type, client.FirstName, client.LastName = mobileauth.UserClient, "", ""
	client.CreatedAt = time.Time{}
	require.NoError(t, s.AddUser(ctx, client))

	t.Run("stores the e-mail lower-case and creates the tenant", func(t *testing.T) {
		u, err := s.GetUser(ctx, "t1", "u1")
		require.NoError(t, err)
		assert.Equal(t, "ada@example.com", u.Email)
		assert.Equal(t, "Ada Lovelace", u.Name())
		assert.Equal(t, mobileauth.UserInternal, u.Type)
		assert.True(t, u.Active)
		assertTime(t, t0, u.CreatedAt, "CreatedAt")
		tenant, err := s.GetTenant(ctx, "t1")
		require.NoError(t, err)
		assert.Equal(t, "t1", tenant.ID)
		assert.Nil(t, tenant.Plan, "a new tenant has no plan")
	})
	t.Run("stamps a user without a creation time", func(t *testing.T) {
		u, err := s.GetUser(ctx, "t1", "u2")
		require.NoError(t, err)
		assert.False(t, u.CreatedAt.IsZero())
		assert.Equal(t, mobileauth.UserClient, u.Type)
	})
	t.Run("refuses duplicates within a tenant", func(t *testing.T) {
		assert.ErrorIs(t, s.AddUser(ctx, user("t1", "u3", " ADA@example.com ")), mobileauth.ErrConflict, "same e-mail")
		assert.ErrorIs(t, s.AddUser(ctx, user("t1", "u1", "other@example.com")), mobileauth.ErrConflict, "same id")
	})
	t.Run("finds by e-mail case-insensitively across tenants", func(t *testing.T) {
		found, err := s.FindUsersByEmail(ctx, "  aDa@EXAMPLE.com")
		require.NoError(t, err)
		require.Len(t, found, 2)
		assert.Equal(t, []string{"t1", "t2"}, []string{found[0].TenantID, found[1].TenantID})
		none, err := s.FindUsersByEmail(ctx, "nobody@example.com")
		require.NoError(t, err)
		assert.Empty(t, none)
	})
	t.Run("lists by tenant then e-mail", func(t *testing.T) {
		all, err := s.ListUsers(ctx)
		require.NoError(t, err)
		var got []string
		for _, u := range all {
			got = append(got, u.TenantID+"/"+u.Email)
		}
		assert.Equal(t, []string{"t1/ada@example.com", "t1/bob@example.com", "t2/ada@example.com"}, got)
	})
	t.Run("disables and enables by tenant and e-mail", func(t *testing.T) {
		require.NoError(t, s.SetUserActive(ctx, "t1", "ADA@example.com", false, at(time.Hour)))
		require.NoError(t, s.SetUserActive(ctx, "t1", "ada@example.com", false, at(time.Hour)), "idempotent")
		u, err := s.GetUser(ctx, "t1", "u1")
		require.NoError(t, err)
		assert.False(t, u.Active)
		other, err := s.GetUser(ctx, "t2", "u9")
		require.NoError(t, err)
		assert.True(t, other.Active, "the other tenant's user stays active")
		assert.ErrorIs(t, s.SetUserActive(ctx, "t1", "nobody@example.com", false, at(time.Hour)), mobileauth.ErrNotFound)

		require.NoError(t, s.SetUserActive(ctx, "t1", "Ada@Example.com", true, at(time.Hour)))
		require.NoError(t, s.SetUserActive(ctx, "t1", "ada@example.com", true, at(time.Hour)), "idempotent")
		u, err = s.GetUser(ctx, "t1", "u1")
		require.NoError(t, err)
		assert.True(t, u.Active)
		assert.ErrorIs(t, s.SetUserActive(ctx, "t1", "nobody@example.com", true, at(time.Hour)), mobileauth.ErrNotFound)
	})
	t.Run("ChangeUserActive says whether this call changed the user, once among concurrent callers", func(t *testing.T) {
		s := open(t)
		require.NoError(t, s.AddUser(ctx, user("t1", "u1", "ada@example.com")))
		for _, active := range []bool{false, true, false} {
			const callers = 16
			var changes atomic.Int32
			var wg sync.WaitGroup
			for range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id, changed, err := s.ChangeUserActive(ctx, "t1", "ADA@example.com", active, at(time.Hour))
					assert.NoError(t, err)
					assert.Equal(t, "u1", id)
					if changed {
						changes.Add(1)
					}
				}()
			}
			wg.Wait()
			assert.Equal(t, int32(1), changes.Load(), "active=%v: exactly one caller changed it", active)
			u, err := s.GetUser(ctx, "t1", "u1")
			require.NoError(t, err)
			assert.Equal(t, active, u.Active)
		}
		_, _, err := s.ChangeUserActive(ctx, "t1", "nobody@example.com", false, at(time.Hour))
		assert.ErrorIs(t, err, mobileauth.ErrNotFound)
	})
	t.Run("disabling revokes the user's families, tokens and web sessions, and enabling revives none", func(t *testing.T) {
		s := open(t)
		require.NoError(t, s.AddUser(ctx, user("t1", "u1", "ada@example.com")))
		require.NoError(t, s.AddUser(ctx, user("t1", "u2", "bob@example.com")))
		for _, owner := range [][2]string{{"t1", "u1"}, {"t1", "u2"}} {
			f := newFamily("fam-"+owner[1], "sid-"+owner[1])
			f.TenantID, f.UserID = owner[0], owner[1]
			require.NoError(t, s.CreateFamily(ctx, f, newToken("rt-"+owner[1], t0)))
			require.NoError(t, s.CreateSession(ctx, mobileauth.WebSession{IDHash: hash("sid-" + owner[1]), TenantID: owner[0],
				UserID: owner[1], Provider: "google", CreatedAt: t0, ExpiresAt: at(8 * time.Hour)}))
		}
		require.NoError(t, s.SetUserActive(ctx, "t1", "ada@example.com", false, at(time.Hour)))
		require.NoError(t, s.SetUserActive(ctx, "t1", "ada@example.com", false, at(2*time.Hour)), "idempotent")
		require.NoError(t, s.SetUserActive(ctx, "t1", "ada@example.com", true, at(3*time.Hour)))

		fam, err := s.GetFamily(ctx, "fam-u1")
		require.NoError(t, err)
		assertTimePtr(t, ptr(at(time.Hour)), fam.RevokedAt, "family RevokedAt (the first disable)")
		rt, err := s.GetRefreshToken(ctx, hash("rt-u1"))
		require.NoError(t, err)
		assertTimePtr(t, ptr(at(time.Hour)), rt.RevokedAt, "token RevokedAt")
		ws, err := s.GetSession(ctx, hash("sid-u1"))
		require.NoError(t, err)
		assertTimePtr(t, ptr(at(time.Hour)), ws.RevokedAt, "web session RevokedAt")

		fam, err = s.GetFamily(ctx, "fam-u2")
		require.NoError(t, err)
		assert.Nil(t, fam.RevokedAt, "another user's family is untouched")
		ws, err = s.GetSession(ctx, hash("sid-u2"))
		require.NoError(t, err)
		assert.Nil(t, ws.RevokedAt, "another user's session is untouched")
	})
	t.Run("unknown is not found", func(t *testing.T) {
		_, err := s.GetUser(ctx, "t1", "nope")
		assert.ErrorIs(t, err, mobileauth.ErrNotFound)
		_, err = s.GetTenant(ctx, "nope")
		assert.ErrorIs(t, err, mobileauth.ErrNotFound)
	})
}

func testImport(t *testing.T, open Opener) {
	ctx := t.Context()

	t.Run("imports all", func(t *testing.T) {
		s := open(t)
		require.NoError(t, s.ImportUsers(ctx, []mobileauth.User{
			user("t1", "u1", "a@example.com"), user("t1", "u2", "b@example.com"), user("t2", "u1", "a@example.com"),
		}))
		all, err := s.ListUsers(ctx)
		require.NoError(t, err)
		assert.Len(t, all, 3)
	})
	t.Run("imports none when one conflicts with the store", func(t *testing.T) {
		s := open(t)
		require.NoError(t, s.AddUser(ctx, user("t1", "u1", "taken@example.com")))
		err := s.ImportUsers(ctx, []mobileauth.User{
			user("t9", "u1", "new@example.com"), user("t1", "u2", "Taken@Example.com"), user("t1", "u3", "later@example.com"),
		})
		require.ErrorIs(t, err, mobileauth.ErrConflict)
		assert.Contains(t, err.Error(), "taken@example.com", "names the e-mail")
		all, err := s.ListUsers(ctx)
		require.NoError(t, err)
		assert.Len(t, all, 1, "nothing imported")
		_, err = s.GetTenant(ctx, "t9")
		assert.ErrorIs(t, err, mobileauth.ErrNotFound, "no tenant created either")
	})
	t.Run("imports none when the batch repeats an e-mail", func(t *testing.T) {
		s := open(t)
		err := s.ImportUsers(ctx, []mobileauth.User{user("t1", "u1", "a@example.com"), user("t1", "u2", "A@example.com")})
		require.ErrorIs(t, err, mobileauth.ErrConflict)
		assert.Contains(t, err.Error(), "a@example.com")
		all, err := s.ListUsers(ctx)
		require.NoError(t, err)
		assert.Empty(t, all)
	})
	t.Run("an empty import is a no-op", func(t *testing.T) {
		s := open(t)
		require.NoError(t, s.ImportUsers(ctx, nil))
	})
}

func testTenants(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t)
	require.NoError(t, s.AddUser(ctx, user("t1", "u1", "a@example.com")))

	for _, tier := range []mobileauth.Tier{mobileauth.TierEssentials, mobileauth.TierSolo, mobileauth.TierPro} {
		require.NoError(t, s.SetTenantPlan(ctx, "t1", tier))
		got, err := s.GetTenant(ctx, "t1")
		require.NoError(t, err)
		require.NotNil(t, got.Plan)
		assert.Equal(t, tier, *got.Plan)
	}
	t.Run("the empty tier clears the plan", func(t *testing.T) {
		require.NoError(t, s.SetTenantPlan(ctx, "t1", ""))
		got, err := s.GetTenant(ctx, "t1")
		require.NoError(t, err)
		assert.Nil(t, got.Plan)
	})
	t.Run("an unknown tenant is not found", func(t *testing.T) {
		assert.ErrorIs(t, s.SetTenantPlan(ctx, "nope", mobileauth.TierPro), mobileauth.ErrNotFound)
	})
	t.Run("adding a user keeps the tenant's plan", func(t *testing.T) {
		require.NoError(t, s.SetTenantPlan(ctx, "t1", mobileauth.TierSolo))
		require.NoError(t, s.AddUser(ctx, user("t1", "u2", "b@example.com")))
		got, err := s.GetTenant(ctx, "t1")
		require.NoError(t, err)
		require.NotNil(t, got.Plan)
		assert.Equal(t, mobileauth.TierSolo, *got.Plan)
	})
	t.Run("a member is the user with the tenant's plan, read at once", func(t *testing.T) {
		require.NoError(t, s.SetTenantPlan(ctx, "t1", mobileauth.TierEssentials))
		m, err := s.GetMember(ctx, "t1", "u1")
		require.NoError(t, err)
		require.NotNil(t, m.User)
		want, err := s.GetUser(ctx, "t1", "u1")
		require.NoError(t, err)
		assert.Equal(t, want, *m.User)
		assert.Equal(t, "t1", m.Tenant.ID)
		require.NotNil(t, m.Tenant.Plan)
		assert.Equal(t, mobileauth.TierEssentials, *m.Tenant.Plan)

		require.NoError(t, s.SetTenantPlan(ctx, "t1", ""))
		m, err = s.GetMember(ctx, "t1", "u1")
		require.NoError(t, err)
		assert.Nil(t, m.Tenant.Plan, "no plan")
	})
	t.Run("a missing user still brings the tenant's plan", func(t *testing.T) {
		require.NoError(t, s.SetTenantPlan(ctx, "t1", mobileauth.TierSolo))
		m, err := s.GetMember(ctx, "t1", "nobody")
		require.NoError(t, err)
		assert.Nil(t, m.User)
		assert.Equal(t, "t1", m.Tenant.ID)
		require.NotNil(t, m.Tenant.Plan)
		assert.Equal(t, mobileauth.TierSolo, *m.Tenant.Plan)

		m, err = s.GetMember(ctx, "nope", "u1")
		require.NoError(t, err)
		assert.Nil(t, m.User, "u1 is in t1, not in an unknown tenant")
		assert.Equal(t, mobileauth.Tenant{ID: "nope"}, m.Tenant)
	})
}
