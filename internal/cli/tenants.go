package cli

import (
	"errors"
	"fmt"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
)

func tenantsCommands() []*command {
	return []*command{
		{name: "set-plan", summary: "set a tenant's plan (decides mobile access under hosted licensing)", run: runTenantsSetPlan},
		{name: "show", summary: "show a tenant's plan", run: runTenantsShow},
	}
}

func runTenantsSetPlan(e Env) int {
	const cmd = "tenants set-plan"
	fs := flags(cmd)
	tenant := fs.String("tenant", "", "tenant id (UUID; required)")
	plan := fs.String("plan", "", "essentials, solo or pro (required); mobile access needs solo or pro")
	usage := cmd + " --tenant <uuid> --plan essentials|solo|pro\n\n" +
		"Sets the plan that decides mobile access when no license or trial is configured (hosted\n" +
		"licensing). A tenant without a plan counts as pro. Tenants come into being with their first user."
	if code, ok := parse(e, fs, usage, 0); !ok {
		return code
	}
	tenantID, err := requiredUUID("--tenant", *tenant)
	if err != nil {
		return usageError(e, cmd, "%v", err)
	}
	if *plan == "" {
		return usageError(e, cmd, "--plan is required (essentials, solo or pro)")
	}
	tier, err := mobileauth.ParseTier(*plan)
	if err != nil {
		return usageError(e, cmd, "--plan %s: want essentials, solo or pro", show(*plan))
	}
	return withStore(e, cmd, func(st *sqlstore.Store) int {
		if err := st.SetTenantPlan(e.Ctx, tenantID, tier); err != nil {
			if errors.Is(err, mobileauth.ErrNotFound) {
				return fail(e, cmd, fmt.Errorf("no tenant %s (a tenant is created with its first user: users add)", tenantID))
			}
			return fail(e, cmd, err)
		}
		fmt.Fprintf(e.Stdout, "tenant %s: plan %s (%s)\n", tenantID, tier, mobileText(tier))
		return writeAdminAudit(e, st, cmd, adminEvent{op: mobileauth.AuditAdminTenantPlan, tenant: tenantID, record: tenantID,
			details: map[string]string{"plan": string(tier)}})
	})
}

func runTenantsShow(e Env) int {
	const cmd = "tenants show"
	fs := flags(cmd)
	tenant := fs.String("tenant", "", "tenant id (UUID; required)")
	if code, ok := parse(e, fs, cmd+" --tenant <uuid>\n\nShows a tenant's plan.", 0); !ok {
		return code
	}
	tenantID, err := requiredUUID("--tenant", *tenant)
	if err != nil {
		return usageError(e, cmd, "%v", err)
	}
	return withStore(e, cmd, func(st *sqlstore.Store) int {
		t, err := st.GetTenant(e.Ctx, tenantID)
		if err != nil {
			if errors.Is(err, mobileauth.ErrNotFound) {
				return fail(e, cmd, fmt.Errorf("no tenant %s", tenantID))
			}
			return fail(e, cmd, err)
		}
		if t.Plan == nil {
			fmt.Fprintf(e.Stdout, "tenant %s: no plan set, counts as pro (%s)\n", tenantID, mobileText(mobileauth.TierPro))
			return ExitOK
		}
		fmt.Fprintf(e.Stdout, "tenant %s: plan %s (%s)\n", tenantID, cell(string(*t.Plan)), mobileText(*t.Plan))
		return ExitOK
	})
}

// mobileText says what a plan means for the app under hosted licensing.
func mobileText(t mobileauth.Tier) string {
	if t.AllowsMobile() {
		return "includes mobile access under hosted licensing"
	}
	return "no mobile access under hosted licensing"
}
