package authflow_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/license"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// countingDirectory counts the member reads a replica makes of AlgaPSA's
// users and tenants.
type countingDirectory struct {
	authflow.Directory
	members atomic.Int32
}

func (d *countingDirectory) GetMember(ctx context.Context, tenantID, userID string) (mobileauth.Member, error) {
	d.members.Add(1)
	return d.Directory.GetMember(ctx, tenantID, userID)
}

// TestApplianceRefreshReadsTheOwnerWhenNeeded: under self-host licensing
// the key's mint applies AlgaPSA's owner rule itself, so a refresh reads
// the owner's row only when the mint refuses them (then to answer as
// always: 401 and every key of the user ended); under hosted licensing the
// tenant's plan decides, and the owner is read before the mint.
func TestApplianceRefreshReadsTheOwnerWhenNeeded(t *testing.T) {
	for _, tc := range []struct {
		name         string
		fixture      func(t *testing.T) *applianceFixture
		readsOnMint  int32
		readsRefused int32
	}{
		{"self-host", func(t *testing.T) *applianceFixture {
			return newApplianceFixtureLicensed(t, selfHostLicensing)
		}, 0, 1},
		{"hosted", newApplianceFixture, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.fixture(t)
			dir := &countingDirectory{}
			svc, _, _, _ := f.replicaWrapped(wrappers{dir: func(d authflow.Directory) authflow.Directory { dir.Directory = d; return dir }})
			refresh := func(rt string) (authflow.RefreshResult, error) {
				return svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: rt, ClientIP: "198.51.100.9"})
			}
			u := f.user()
			s := f.session(u)

			r, err := refresh(s.RefreshToken)
			require.NoError(t, err)
			assert.Equal(t, tc.readsOnMint, dir.members.Load(), "member reads of a refresh that mints")
			require.NoError(t, f.accepted(r.AccessToken, u.TenantID))
			assert.Equal(t, 1, f.activeKeys(f.familyOf(r.AccessToken)))

			f.psa.SetUserInactive(t, u.TenantID, u.ID, true)
			dir.members.Store(0)
			_, err = refresh(r.RefreshToken)
			assertCode(t, err, mobileauth.CodeUnauthorized)
			assert.Equal(t, tc.readsRefused, dir.members.Load(), "member reads of a refused refresh")
			f.assertUserKeysEnded(t, u.ID)
			f.psa.SetUserInactive(t, u.TenantID, u.ID, false)
			_, err = refresh(r.RefreshToken)
			assertCode(t, err, mobileauth.CodeUnauthorized) // the session ended for good
		})
	}
}

// aroundFirstMintOf is API-key access that calls before right ahead of its
// first mint and, when set, after right after it: the owner changing in
// AlgaPSA around the statement that applies the owner rule.
type aroundFirstMintOf struct {
	authflow.AccessCredentials
	before, after func()
	once          atomic.Bool
}

func (m *aroundFirstMintOf) Issue(ctx context.Context, u mobileauth.User, familyID string, dev mobileauth.Device) (authflow.AccessToken, error) {
	if m.once.CompareAndSwap(false, true) {
		m.before()
		if m.after != nil {
			defer m.after()
		}
	}
	return m.AccessCredentials.Issue(ctx, u, familyID, dev)
}

// AppliesOwnerRule: the wrapped credentials are API keys, which do.
func (*aroundFirstMintOf) AppliesOwnerRule() {}

// replicaAround is a replica whose first mint runs inside m.
func (f *applianceFixture) replicaAround(m *aroundFirstMintOf) (*authflow.Service, *eventLog) {
	svc, _, _, events := f.replicaWrapped(wrappers{
		access: func(a authflow.AccessCredentials) authflow.AccessCredentials { m.AccessCredentials = a; return m },
	})
	return svc, events
}

// TestApplianceOwnerBackBetweenMintAndRead: a refresh whose mint refuses the
// owner, who is active again when the refresh reads them (afresh, under
// hosted licensing, where they were read before the mint too), answers 503
// and leaves the token live: the phone's retry, even after the grace
// period, gets a key AlgaPSA accepts, and no theft is detected.
func TestApplianceOwnerBackBetweenMintAndRead(t *testing.T) {
	eachLicensing(t, func(t *testing.T, f *applianceFixture) {
		u := f.user()
		svc, events := f.replicaAround(&aroundFirstMintOf{
			before: func() { f.psa.SetUserInactive(t, u.TenantID, u.ID, true) },
			after:  func() { f.psa.SetUserInactive(t, u.TenantID, u.ID, false) },
		})
		s := f.session(u)
		fam := f.familyOf(s.AccessToken)

		_, err := svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: s.RefreshToken, ClientIP: "198.51.100.9"})
		assertCode(t, err, mobileauth.CodeServiceUnavailable)
		assert.Equal(t, 1, events.count("refresh_rejected/owner_changed"))
		rt, err := f.store.GetRefreshToken(f.ctx, token.HashOf(s.RefreshToken))
		require.NoError(t, err)
		assert.Nil(t, rt.RotatedAt, "the phone's token is still its current one")
		assert.Nil(t, rt.RevokedAt)
		assert.Zero(t, f.activeKeys(fam), "the refused mint ended the previous key and made none")

		f.clock.Advance(time.Minute)
		r, err := svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: s.RefreshToken, ClientIP: "198.51.100.9"})
		require.NoError(t, err, "the phone's retry")
		require.NoError(t, f.accepted(r.AccessToken, u.TenantID))
		assert.Equal(t, 1, f.activeKeys(fam))
		assert.Empty(t, f.reuseAudits(fam), "no theft detected")
		_, err = f.refresh(r.RefreshToken)
		require.NoError(t, err, "the successor works")
	})
}

// TestApplianceUserDisabledBeforeTheMint: a user disabled in AlgaPSA just
// before a refresh's mint (after its read of them, under hosted licensing)
// is refused as one disabled earlier: 401, the family revoked and every key
// of the user ended.
func TestApplianceUserDisabledBeforeTheMint(t *testing.T) {
	eachLicensing(t, func(t *testing.T, f *applianceFixture) {
		u := f.user()
		svc, _ := f.replicaAround(&aroundFirstMintOf{before: func() { f.psa.SetUserInactive(t, u.TenantID, u.ID, true) }})
		s := f.session(u)
		other := f.session(u)

		_, err := svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: s.RefreshToken, ClientIP: "198.51.100.9"})
		assertCode(t, err, mobileauth.CodeUnauthorized)
		f.assertUserKeysEnded(t, u.ID)
		rt, err := f.store.GetRefreshToken(f.ctx, token.HashOf(s.RefreshToken))
		require.NoError(t, err)
		assert.NotNil(t, rt.RevokedAt, "the family is revoked")
		f.psa.SetUserInactive(t, u.TenantID, u.ID, false)
		_, err = f.refresh(s.RefreshToken)
		assertCode(t, err, mobileauth.CodeUnauthorized) // the session ended for good
		_, err = f.refresh(other.RefreshToken)
		require.NoError(t, err, "the other phone's family was not revoked, and the user is back")
	})
}

// TestApplianceLicenseEndedStillEndsADisabledUser: once the installation's
// license (here its trial) no longer grants mobile access, a refresh reads
// its owner before anything else again: a disabled user still gets 401 with
// every key ended, whatever the license; an active one gets the license's
// 403 and keeps the session.
func TestApplianceLicenseEndedStillEndsADisabledUser(t *testing.T) {
	start := t0.Add(-license.TrialDuration + time.Hour) // the trial ends an hour after t0
	f := newApplianceFixtureLicensed(t, license.Options{Edition: license.Enterprise, TrialStartedAt: &start})
	gone, stays := f.user(), f.user()
	s, kept := f.session(gone), f.session(stays)
	f.clock.Advance(2 * time.Hour)
	f.psa.SetUserInactive(t, gone.TenantID, gone.ID, true)

	_, err := f.refresh(s.RefreshToken)
	assertCode(t, err, mobileauth.CodeUnauthorized)
	f.assertUserKeysEnded(t, gone.ID)
	_, err = f.refresh(kept.RefreshToken)
	assertCode(t, err, mobileauth.CodeForbidden)
	assert.Equal(t, 1, f.activeKeys(f.familyOf(kept.AccessToken)), "an active user's session is kept")
}
