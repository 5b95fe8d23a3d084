package algapsa

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
)

// TestStatementsByOwnerReadOnlyTheOwnersKeys: the statements that end a
// family's or a user's keys find them through the user (and tenant), not
// through AlgaPSA's (purpose, expires_at) index, which holds every
// mobile_session key: on a table without statistics yet (as after a busy
// hour of a fresh appliance, or in the benchmark) the planner chose that
// index and a refresh read thousands of rows to deactivate one.
func TestStatementsByOwnerReadOnlyTheOwnersKeys(t *testing.T) {
	for name, plan := range ownerStatementPlans(t, false) {
		t.Run(name, func(t *testing.T) {
			assert.NotContains(t, plan, "api_keys_purpose_expires_at_idx", plan)
			assert.NotContains(t, plan, "Seq Scan", plan)
		})
	}
}

// TestStatementsByOwnerSkipTheTenantIndex: on an appliance most users share
// one tenant, so AlgaPSA's tenant index holds every key of the table. On a
// table without statistics the planner ANDed that index's bitmap with the
// user's (tenant = $1 AND user_id = $2), and a refresh's deactivation read
// the whole tenant's index entries: a millisecond of database CPU per
// refresh, growing with the table. The owner's keys must be found through
// the user alone.
func TestStatementsByOwnerSkipTheTenantIndex(t *testing.T) {
	for name, plan := range ownerStatementPlans(t, true) {
		t.Run(name, func(t *testing.T) {
			assert.Contains(t, plan, "api_keys_user_id_index", plan)
			assert.NotContains(t, plan, "api_keys_tenant_index", plan)
			assert.NotContains(t, plan, "api_keys_purpose_expires_at_idx", plan)
			assert.NotContains(t, plan, "Seq Scan", plan)
		})
	}
}

// ownerStatementPlans seeds 200 users with 40 keys each, as this service
// writes them, a few at a time (as a busy service does; no statistics are
// gathered meanwhile), every user in a tenant of their own or all in one
// (sharedTenant), and returns the plans of the family's (with and without
// a remembered key) and the user's deactivation for the last user, by name.
func ownerStatementPlans(t *testing.T, sharedTenant bool) map[string]string {
	sdb := algapsatest.New(t)
	d, err := Open(context.Background(), sdb.AppURL, Options{})
	require.NoError(t, err)
	t.Cleanup(d.Close)
	var tenant string
	if sharedTenant {
		tenant = sdb.AddTenant(t, nil)
	}
	var owner algapsatest.User
	for i := range 200 {
		owner = sdb.AddUser(t, algapsatest.User{TenantID: tenant, Email: fmt.Sprintf("user-%d@example.com", i)})
		sdb.Exec(t, `INSERT INTO api_keys (api_key, tenant, user_id, description, purpose, metadata, active, expires_at)
			SELECT md5(random()::text) || md5(random()::text), $1, $2, 'Mobile session', 'mobile_session',
			       jsonb_build_object('issuer', 'alga-mobile-auth', 'familyId', 'fam-' || g), g % 40 = 0, now() + interval '15 minutes'
			  FROM generate_series(1, 40) g`, owner.TenantID, owner.ID)
	}
	return map[string]string{
		"family": explain(t, d, deactivateFamily, owner.TenantID, owner.ID, "fam-x"),
		"hinted": explain(t, d, deactivateHinted, owner.TenantID, owner.ID, "fam-x", "00000000-0000-4000-8000-000000000001"),
		"user":   explain(t, d, deactivateUser, owner.TenantID, owner.ID),
	}
}

// explain returns the plan of a statement, in a transaction rolled back.
func explain(t *testing.T, d *DB, sql string, args ...any) string {
	t.Helper()
	ctx := context.Background()
	tx, err := d.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	rows, err := tx.Query(ctx, "EXPLAIN "+sql, args...)
	require.NoError(t, err)
	var plan []string
	for rows.Next() {
		var l string
		require.NoError(t, rows.Scan(&l))
		plan = append(plan, l)
	}
	require.NoError(t, rows.Err())
	return strings.Join(plan, "\n")
}
