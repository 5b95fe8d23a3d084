package authflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// afterRotation is a refresh store that runs hook once, right after it
// rotated a token: whatever hook does lands between a refresh's rotation
// and its mint of the family's next API key.
type afterRotation struct {
	mobileauth.RefreshStore
	hook func()
}

func (a *afterRotation) RotateRefreshToken(ctx context.Context, old, succ mobileauth.Hash, exp, now time.Time) (mobileauth.RotateResult, error) {
	r, err := a.RefreshStore.RotateRefreshToken(ctx, old, succ, exp, now)
	if err == nil && r.Outcome == mobileauth.Rotated && a.hook != nil {
		hook := a.hook
		a.hook = nil
		hook()
	}
	return r, err
}

// TestApplianceFamilyEndedDuringRefreshLeavesNoKey: a revoke or a theft
// detection on one instance that lands while another instance is between
// rotating a token of the family and minting its next key ends the family
// all the same (SPEC §3.6, §8.4): the racing refresh answers 401 and the
// family has no active key left.
func TestApplianceFamilyEndedDuringRefreshLeavesNoKey(t *testing.T) {
	eachLicensing(t, func(t *testing.T, f *applianceFixture) {
		hooked := &afterRotation{}
		second, _, _, _ := f.replicaWith(func(st mobileauth.RefreshStore) mobileauth.RefreshStore {
			hooked.RefreshStore = st
			return hooked
		})

		for _, tc := range []struct {
			name string
			// start signs in and returns the token the racing refresh presents,
			// its family and what ends the family on the first instance meanwhile.
			start func(t *testing.T) (presented, family string, end func())
		}{
			{"revoke", func(t *testing.T) (string, string, func()) {
				s := f.session(f.user())
				return s.RefreshToken, f.familyOf(s.AccessToken), func() {
					require.NoError(t, f.svc.Revoke(f.ctx, authflow.RevokeRequest{RefreshToken: s.RefreshToken, ClientIP: "198.51.100.7"}))
				}
			}},
			{"theft detection", func(t *testing.T) (string, string, func()) {
				s := f.session(f.user())
				r, err := f.refresh(s.RefreshToken)
				require.NoError(t, err)
				fam := f.familyOf(r.AccessToken)
				f.clock.Advance(grace + time.Second)
				return r.RefreshToken, fam, func() {
					_, err := f.refresh(s.RefreshToken) // the victim's stale token
					assertCode(t, err, mobileauth.CodeUnauthorized)
				}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				presented, fam, end := tc.start(t)
				ended := false
				hooked.hook = func() {
					end()
					ended = true
					require.Zero(t, f.activeKeys(fam), "the family's keys are deactivated by the revocation itself")
				}
				res, err := second.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: presented, ClientIP: "203.0.113.9"})
				require.True(t, ended, "the family ended between rotation and mint")
				if err == nil {
					t.Logf("AlgaPSA accepts the racing refresh's key: %v", f.accepted(res.AccessToken, f.keyRows(fam)[0].TenantID) == nil)
				}
				assertCode(t, err, mobileauth.CodeUnauthorized)
				assert.Zero(t, f.activeKeys(fam), "an ended family has no active key")
			})
		}
	})
}

// aroundFirstMint is a refresh store that runs afterCreate once, right
// after it created a family (before the exchange mints the family's first
// key), and beforeRecheck once, at the first read of a family (the
// exchange's re-check, right after that mint).
type aroundFirstMint struct {
	mobileauth.RefreshStore
	afterCreate   func(familyID string)
	beforeRecheck func(familyID string)
}

func (a *aroundFirstMint) CreateFamily(ctx context.Context, fam mobileauth.TokenFamily, first mobileauth.RefreshToken) error {
	err := a.RefreshStore.CreateFamily(ctx, fam, first)
	if hook := a.afterCreate; err == nil && hook != nil {
		a.afterCreate = nil
		hook(fam.ID)
	}
	return err
}

func (a *aroundFirstMint) GetFamily(ctx context.Context, id string) (mobileauth.TokenFamily, error) {
	if hook := a.beforeRecheck; hook != nil {
		a.beforeRecheck = nil
		hook(id)
	}
	return a.RefreshStore.GetFamily(ctx, id)
}

// TestApplianceFamilyEndedDuringExchangeLeavesNoKey: the exchange mints a
// new family's first key without deactivating anything (there is nothing
// yet). A revocation of the family (as another instance ends a family:
// the store first, then the family's keys) landing before that mint, or
// between the mint and the exchange's re-check, still leaves the family
// without an active key, and the exchange answers 401.
func TestApplianceFamilyEndedDuringExchangeLeavesNoKey(t *testing.T) {
	f := newApplianceFixture(t)
	hooked := &aroundFirstMint{}
	second, _, _, _ := f.replicaWith(func(st mobileauth.RefreshStore) mobileauth.RefreshStore {
		hooked.RefreshStore = st
		return hooked
	})
	var family string
	endFamily := func(t *testing.T, u mobileauth.User) func(string) {
		return func(id string) {
			family = id
			require.NoError(t, f.store.RevokeFamily(f.ctx, id, f.clock.Now()))
			_, err := f.db.RevokeFamilyKeys(f.ctx, u.TenantID, u.ID, id)
			require.NoError(t, err)
		}
	}
	for _, tc := range []struct {
		name string
		set  func(h func(string))
	}{
		{"before the first mint", func(h func(string)) { hooked.afterCreate = h }},
		{"between the first mint and the re-check", func(h func(string)) { hooked.beforeRecheck = h }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := f.user()
			c, _ := f.webSignIn(u)
			ott := f.ott(c)
			family = ""
			tc.set(endFamily(t, mobileauth.User{TenantID: u.TenantID, ID: u.ID}))
			_, err := second.Exchange(f.ctx, exchangeReq(ott, "st", "198.51.100.7"))
			require.NotEmpty(t, family, "the family ended during the exchange")
			assertCode(t, err, mobileauth.CodeUnauthorized)
			require.Len(t, f.keyRows(family), 1, "the first key was minted")
			assert.Zero(t, f.activeKeys(family), "an ended family has no active key")
		})
	}
}
