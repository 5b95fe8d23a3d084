package algapsa

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

const hintTTL = 15 * time.Minute

// hintFixture is a stand-in with two replicas of the adapter and a user
// of a busy tenant (seedKeyHistory).
func hintFixture(t *testing.T) (*algapsatest.DB, [2]*DB, algapsatest.User) {
	t.Helper()
	sdb := algapsatest.New(t)
	var dbs [2]*DB
	for i := range dbs {
		d, err := Open(context.Background(), sdb.AppURL, Options{})
		require.NoError(t, err)
		t.Cleanup(d.Close)
		dbs[i] = d
	}
	u := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com"})
	seedKeyHistory(t, sdb, u, 40)
	return sdb, dbs, u
}

// seedKeyHistory gives u n inactive keys of earlier families (past
// refreshes), and u's tenant 200 other users holding 40 keys each, one of
// them active, so that the planner sees a table of a busy appliance.
func seedKeyHistory(tb testing.TB, sdb *algapsatest.DB, u algapsatest.User, n int) {
	tb.Helper()
	sdb.Exec(tb, `INSERT INTO api_keys (api_key, tenant, user_id, description, purpose, metadata, active, expires_at)
		SELECT md5(random()::text) || md5(random()::text), $1, $2, 'Mobile session', 'mobile_session',
		       jsonb_build_object('issuer', 'alga-mobile-auth', 'familyId', 'old-' || (g / 96)), false, now()
		  FROM generate_series(1, $3) g`, u.TenantID, u.ID, n)
	sdb.Exec(tb, `INSERT INTO api_keys (api_key, tenant, user_id, description, purpose, metadata, active, expires_at)
		SELECT md5(random()::text) || md5(random()::text), $1, o.id, 'Mobile session', 'mobile_session',
		       jsonb_build_object('issuer', 'alga-mobile-auth', 'familyId', 'fam-' || g), g = 40, now() + interval '15 minutes'
		  FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, 200)) o, generate_series(1, 40) g`, u.TenantID)
}

func activeKeyIDs(t *testing.T, sdb *algapsatest.DB, where string, args ...any) []string {
	t.Helper()
	var ids []string
	for _, r := range sdb.APIKeyRows(t, where+" AND active", args...) {
		ids = append(ids, r.ID)
	}
	return ids
}

// TestMintEndsTheRememberedKeyThroughThePrimaryKey: the family's next mint
// on the replica that minted its key reads that key alone; the scan of the
// user's keys is not run.
func TestMintEndsTheRememberedKeyThroughThePrimaryKey(t *testing.T) {
	sdb, dbs, u := hintFixture(t)
	ctx := context.Background()
	d := dbs[0]
	k, err := d.MintAPIKey(ctx, u.TenantID, u.ID, "fam", mobileauth.Device{}, hintTTL)
	require.NoError(t, err)
	hint, ok := d.hints.get("fam")
	require.True(t, ok)
	assert.Equal(t, k.ID, hint)

	plan := explainAnalyze(t, d, deactivateHinted, u.TenantID, u.ID, "fam", hint)
	assert.Regexp(t, `(?s)InitPlan 1 .*on api_keys h .*api_keys_pkey.*InitPlan 2 `, plan, "the remembered key, through the primary key")
	assert.Regexp(t, `(?m)api_keys_user_id_index.*\(never executed\)`, plan)
	assert.NotContains(t, plan, "Seq Scan", plan)

	next, err := d.MintAPIKey(ctx, u.TenantID, u.ID, "fam", mobileauth.Device{}, hintTTL)
	require.NoError(t, err)
	assert.Equal(t, []string{next.ID}, activeKeyIDs(t, sdb, "metadata->>'familyId' = 'fam'"))
	hint, _ = d.hints.get("fam")
	assert.Equal(t, next.ID, hint, "the hint follows the family's newest key")
}

// TestMintWithAStaleHintEndsTheFamilysKeyAllTheSame: whatever a replica
// remembers, the family keeps exactly one active key, and no other
// family's key is touched.
func TestMintWithAStaleHintEndsTheFamilysKeyAllTheSame(t *testing.T) {
	tests := []struct {
		name string
		// stale prepares the family "fam" (first key minted on dbs[0])
		// and returns the hint dbs[0] is left with.
		stale func(t *testing.T, sdb *algapsatest.DB, dbs [2]*DB, u algapsatest.User) string
	}{
		{"another replica minted since", func(t *testing.T, _ *algapsatest.DB, dbs [2]*DB, u algapsatest.User) string {
			_, err := dbs[1].MintAPIKey(context.Background(), u.TenantID, u.ID, "fam", mobileauth.Device{}, hintTTL)
			require.NoError(t, err)
			h, _ := dbs[0].hints.get("fam")
			return h
		}},
		{"the sweep ended the remembered key", func(t *testing.T, sdb *algapsatest.DB, dbs [2]*DB, u algapsatest.User) string {
			h, _ := dbs[0].hints.get("fam")
			sdb.Exec(t, "UPDATE api_keys SET active = false WHERE api_key_id = $1", h)
			_, err := dbs[1].MintAPIKey(context.Background(), u.TenantID, u.ID, "fam", mobileauth.Device{}, hintTTL)
			require.NoError(t, err)
			return h
		}},
		{"the hint names another family's key", func(t *testing.T, _ *algapsatest.DB, dbs [2]*DB, u algapsatest.User) string {
			other, err := dbs[1].MintAPIKey(context.Background(), u.TenantID, u.ID, "other", mobileauth.Device{}, hintTTL)
			require.NoError(t, err)
			dbs[0].hints.set("fam", other.ID)
			return other.ID
		}},
		{"the hint names another user's key", func(t *testing.T, sdb *algapsatest.DB, dbs [2]*DB, u algapsatest.User) string {
			v := sdb.AddUser(t, algapsatest.User{TenantID: u.TenantID, Email: "bob@example.com"})
			theirs, err := dbs[1].MintAPIKey(context.Background(), v.TenantID, v.ID, "fam", mobileauth.Device{}, hintTTL)
			require.NoError(t, err)
			dbs[0].hints.set("fam", theirs.ID)
			return theirs.ID
		}},
		{"the hint is not a key at all", func(t *testing.T, _ *algapsatest.DB, dbs [2]*DB, _ algapsatest.User) string {
			dbs[0].hints.set("fam", "00000000-0000-4000-8000-00000000dead")
			return "00000000-0000-4000-8000-00000000dead"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sdb, dbs, u := hintFixture(t)
			ctx := context.Background()
			_, err := dbs[0].MintAPIKey(ctx, u.TenantID, u.ID, "fam", mobileauth.Device{}, hintTTL)
			require.NoError(t, err)
			hint := tt.stale(t, sdb, dbs, u)
			elsewhere := activeKeyIDs(t, sdb, "NOT (metadata->>'familyId' = 'fam' AND user_id = $1)", u.ID)

			next, err := dbs[0].MintAPIKey(ctx, u.TenantID, u.ID, "fam", mobileauth.Device{}, hintTTL)
			require.NoError(t, err)
			assert.Equal(t, []string{next.ID}, activeKeyIDs(t, sdb, "metadata->>'familyId' = 'fam' AND user_id = $1", u.ID),
				"one active key for the family: the new one")
			assert.Equal(t, elsewhere, activeKeyIDs(t, sdb, "NOT (metadata->>'familyId' = 'fam' AND user_id = $1)", u.ID),
				"other families' keys untouched (hint %s)", hint)
		})
	}
}

// TestKeyHintsForgetWhatCannotBeTrue: a revoked family, or an owner who
// could not receive a key, leaves no hint behind.
func TestKeyHintsForgetWhatCannotBeTrue(t *testing.T) {
	sdb, dbs, u := hintFixture(t)
	ctx := context.Background()
	d := dbs[0]
	_, err := d.MintAPIKey(ctx, u.TenantID, u.ID, "fam", mobileauth.Device{}, hintTTL)
	require.NoError(t, err)
	_, err = d.RevokeFamilyKeys(ctx, u.TenantID, u.ID, "fam")
	require.NoError(t, err)
	_, ok := d.hints.get("fam")
	assert.False(t, ok, "revoked")

	_, err = d.MintAPIKey(ctx, u.TenantID, u.ID, "fam-2", mobileauth.Device{}, hintTTL)
	require.NoError(t, err)
	sdb.Exec(t, "UPDATE users SET is_inactive = true WHERE user_id = $1", u.ID)
	_, err = d.MintAPIKey(ctx, u.TenantID, u.ID, "fam-2", mobileauth.Device{}, hintTTL)
	require.ErrorIs(t, err, mobileauth.ErrNotFound)
	_, ok = d.hints.get("fam-2")
	assert.False(t, ok, "owner refused: the family's key was ended and none minted")
	assert.Empty(t, activeKeyIDs(t, sdb, "metadata->>'familyId' = 'fam-2'"))
}

func TestKeyHintsAreBounded(t *testing.T) {
	h := newKeyHints()
	for i := range maxKeyHints {
		h.set(strings.Repeat("f", 8)+string(rune('a'+i%26))+time.Duration(i).String(), "k")
	}
	require.Len(t, h.last, maxKeyHints)
	h.set("one more", "k")
	assert.Len(t, h.last, 1, "full: starts afresh")
	h.set("one more", "k2")
	got, _ := h.get("one more")
	assert.Equal(t, "k2", got)
}

// explainAnalyze runs a statement under EXPLAIN ANALYZE in a transaction
// rolled back, and returns its plan.
func explainAnalyze(t *testing.T, d *DB, sql string, args ...any) string {
	t.Helper()
	return explain(t, d, "(ANALYZE, COSTS OFF, TIMING OFF) "+sql, args...)
}
