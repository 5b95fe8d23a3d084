package authflow_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// TestApplianceAdoptionRefusedLeavesTokenToPhone: an adoption refused by the
// tenant's state (suspended, plan without mobile access: 403) claims
// nothing, so the AlgaPSA-issued token and its key keep working and the
// phone moves over once the tenant may use mobile again (SPEC §8.5: without
// signing anyone out).
func TestApplianceAdoptionRefusedLeavesTokenToPhone(t *testing.T) {
	f := newApplianceFixture(t)
	essentials := "essentials"
	for _, tc := range []struct {
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := f.user()
			tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
			tc.change(u, true)
			_, err := f.refresh(tok.Token)
			assertCode(t, err, mobileauth.CodeForbidden)
			assert.Nil(t, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt, "the refusal claims nothing")
			assert.True(t, f.psa.APIKeyRow(t, tok.APIKeyID).Active, "AlgaPSA's key is left alone")

			tc.change(u, false)
			res, err := f.refresh(tok.Token)
			require.NoError(t, err, "adopted once the tenant may use mobile again")
			require.NoError(t, f.accepted(res.AccessToken, u.TenantID))
			assert.NotNil(t, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt)
			assert.False(t, f.psa.APIKeyRow(t, tok.APIKeyID).Active)
		})
	}
}
