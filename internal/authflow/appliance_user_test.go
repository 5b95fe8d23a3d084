package authflow_test

import (
	"testing"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// TestApplianceUserLosesAccessWhateverTheTenant: a user made inactive or a
// client user in AlgaPSA loses mobile access at once (SPEC §8.2: the next
// refresh answers 401 and the user's keys are deactivated), also when the
// tenant is suspended or its plan lapsed at the same time. The plan's 403,
// which keeps a session alive until the plan comes back, is for active
// users only; a disabled user's family ends and stays ended.
func TestApplianceUserLosesAccessWhateverTheTenant(t *testing.T) {
	eachLicensing(t, func(t *testing.T, f *applianceFixture) {
		essentials := "essentials"
		users := []struct {
			name   string
			change func(u algapsatest.User, off bool)
		}{
			{"user deactivated", func(u algapsatest.User, off bool) { f.psa.SetUserInactive(t, u.TenantID, u.ID, off) }},
			{"user made a client", func(u algapsatest.User, off bool) {
				typ := "internal"
				if off {
					typ = "client"
				}
				f.psa.SetUserType(t, u.TenantID, u.ID, typ)
			}},
		}
		tenants := []struct {
			name   string
			change func(u algapsatest.User, off bool)
		}{
			{"tenant suspended", func(u algapsatest.User, off bool) { f.psa.SetSuspended(t, u.TenantID, off) }},
			{"plan without mobile access", func(u algapsatest.User, off bool) {
				if off {
					f.psa.SetPlan(t, u.TenantID, &essentials)
				} else {
					f.psa.SetPlan(t, u.TenantID, nil)
				}
			}},
		}
		for _, uc := range users {
			for _, tc := range tenants {
				t.Run(uc.name+", "+tc.name, func(t *testing.T) {
					u := f.user()
					s := f.session(u)
					other := f.session(u) // a second phone of the same user
					uc.change(u, true)
					tc.change(u, true)

					_, err := f.refresh(s.RefreshToken)
					assertCode(t, err, mobileauth.CodeUnauthorized)
					f.assertUserKeysEnded(t, u.ID)
					_, err = f.refresh(other.RefreshToken)
					assertCode(t, err, mobileauth.CodeUnauthorized)

					tc.change(u, false)
					uc.change(u, false)
					_, err = f.refresh(s.RefreshToken)
					assertCode(t, err, mobileauth.CodeUnauthorized) // the session ended for good
				})
			}
		}
	})
}
