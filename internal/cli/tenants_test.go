package cli

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

func TestTenantsSetPlanStoresThePlan(t *testing.T) {
	tests := []struct {
		plan string
		want mobileauth.Tier
		text string
	}{
		{"essentials", mobileauth.TierEssentials, "no mobile access"},
		{"solo", mobileauth.TierSolo, "includes mobile access"},
		{"PRO", mobileauth.TierPro, "includes mobile access"},
		{"premium", mobileauth.TierPro, "includes mobile access"},
	}
	for _, tt := range tests {
		t.Run(tt.plan, func(t *testing.T) {
			url := adminDB(t)
			require.Equal(t, ExitOK, adminRun(t, "users", "add", "--tenant", tenantA, "--email", "a@example.com").code)

			r := adminRun(t, "tenants", "show", "--tenant", tenantA)
			require.Equal(t, ExitOK, r.code, r.stderr)
			assert.Contains(t, r.stdout, "no plan set, counts as pro")

			r = adminRun(t, "tenants", "set-plan", "--tenant", tenantA, "--plan", tt.plan)
			require.Equal(t, ExitOK, r.code, r.stderr)
			assert.Contains(t, r.stdout, "tenant "+tenantA+": plan "+string(tt.want))
			assert.Contains(t, r.stdout, tt.text)

			tn, err := adminStore(t, url).GetTenant(context.Background(), tenantA)
			require.NoError(t, err)
			require.NotNil(t, tn.Plan)
			assert.Equal(t, tt.want, *tn.Plan)

			r = adminRun(t, "tenants", "show", "--tenant", tenantA)
			require.Equal(t, ExitOK, r.code, r.stderr)
			assert.Contains(t, r.stdout, "plan "+string(tt.want))
		})
	}
}

func TestTenantsSetPlanReportsAnUnknownTenant(t *testing.T) {
	adminDB(t)
	r := adminRun(t, "tenants", "set-plan", "--tenant", tenantB, "--plan", "pro")
	assert.Equal(t, ExitFail, r.code)
	assert.Equal(t, "alga-mobile-auth tenants set-plan: no tenant "+tenantB+" (a tenant is created with its first user: users add)\n", r.stderr)

	r = adminRun(t, "tenants", "show", "--tenant", tenantB)
	assert.Equal(t, ExitFail, r.code)
	assert.Contains(t, r.stderr, "no tenant "+tenantB)
}

func TestTenantsCommandsRefuseBadValues(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad plan", []string{"set-plan", "--tenant", tenantA, "--plan", "gold"}, `--plan "gold": want essentials, solo or pro`},
		{"missing plan", []string{"set-plan", "--tenant", tenantA}, "--plan is required"},
		{"missing tenant", []string{"set-plan", "--plan", "pro"}, "--tenant is required"},
		{"bad tenant", []string{"set-plan", "--tenant", "acme", "--plan", "pro"}, `--tenant: "acme" is not a UUID`},
		{"show without tenant", []string{"show"}, "--tenant is required"},
		{"unknown command", []string{"delete"}, `unknown command "delete"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adminDB(t)
			assertUsageError(t, adminRun(t, append([]string{"tenants"}, tt.args...)...), tt.want)
		})
	}
}
