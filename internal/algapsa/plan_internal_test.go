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
	sdb := algapsatest.New(t)
	ctx := context.Background()
	d, err := Open(ctx, sdb.AppURL, Options{})
	require.NoError(t, err)
	t.Cleanup(d.Close)
	var owner algapsatest.User
	for i := range 200 {
		owner = sdb.AddUser(t, algapsatest.User{Email: fmt.Sprintf("user-%d@example.com", i)})
		// 40 keys per user, as this service writes them, a few at a time
		// (as a busy service does; no statistics are gathered meanwhile).
		sdb.Exec(t, `INSERT INTO api_keys (api_key, tenant, user_id, description, purpose, metadata, active, expires_at)
			SELECT md5(random()::text) || md5(random()::text), $1, $2, 'Mobile session', 'mobile_session',
			       jsonb_build_object('issuer', 'alga-mobile-auth', 'familyId', 'fam-' || g), g % 40 = 0, now() + interval '15 minutes'
			  FROM generate_series(1, 40) g`, owner.TenantID, owner.ID)
	}
	for name, q := range map[string]struct {
		sql  string
		args []any
	}{
		"family": {deactivateFamily, []any{owner.TenantID, owner.ID, "fam-x"}},
		"user": {"UPDATE api_keys k SET active = false, updated_at = now() WHERE k.tenant = $1 AND k.user_id = $2 AND " +
			oursOfOwner + " AND k.active", []any{owner.TenantID, owner.ID}},
	} {
		t.Run(name, func(t *testing.T) {
			tx, err := d.pool.Begin(ctx)
			require.NoError(t, err)
			defer func() { _ = tx.Rollback(ctx) }()
			rows, err := tx.Query(ctx, "EXPLAIN "+q.sql, q.args...)
			require.NoError(t, err)
			var plan []string
			for rows.Next() {
				var l string
				require.NoError(t, rows.Scan(&l))
				plan = append(plan, l)
			}
			require.NoError(t, rows.Err())
			text := strings.Join(plan, "\n")
			assert.NotContains(t, text, "api_keys_purpose_expires_at_idx", text)
			assert.NotContains(t, text, "Seq Scan", text)
		})
	}
}
