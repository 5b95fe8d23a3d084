package authflow_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa"
	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// raceAdoption presents one AlgaPSA-issued token attempts times at once,
// spread over svcs (whose events are events): AlgaPSA's row is claimed
// once, one family starts, every presentation answers 200 with its one
// successor (§3.5's grace rules), and one of the keys stays active.
func raceAdoption(t *testing.T, f *applianceFixture, svcs []*authflow.Service, events []*eventLog) {
	t.Helper()
	u := f.user()
	tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, 24*time.Hour)
	adoptions := func() int {
		n := 0
		for _, e := range events {
			n += e.count("refresh_adopted")
		}
		return n
	}
	before := adoptions()
	o := newOutcomes()
	keys := make([]string, attempts)
	race(attempts, func(i int) {
		res, err := svcs[i%len(svcs)].Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "203.0.113.2"})
		keys[i] = res.AccessToken
		o.add(res.RefreshToken, err)
	})
	mine := f.psa.APIKeyRows(t, "user_id = $1 AND metadata->>'issuer' = $2", u.ID, algapsa.KeyIssuer)
	families := map[string]bool{}
	active := 0
	for _, r := range mine {
		families[r.Metadata["familyId"].(string)] = true
		if r.Active {
			active++
		}
	}
	adopted := adoptions() - before
	t.Logf("%d concurrent adoptions of one AlgaPSA token on %d instance(s): %d succeeded with %d distinct refresh token(s), failures %v %v; adopted (claimed) %d time(s); %d famil(y/ies), keys %d, active %d",
		attempts, len(svcs), o.ok, len(o.tokens), o.byCode, o.errs, adopted, len(families), len(mine), active)
	assert.Equal(t, attempts, o.ok, "all inside the grace period (SPEC §3.5, §8.5)")
	require.Len(t, o.tokens, 1, "one successor")
	assert.Empty(t, o.byCode)
	assert.Empty(t, o.errs)
	assert.Equal(t, 1, adopted, "AlgaPSA's row is claimed once")
	assert.Len(t, families, 1, "one family")
	assert.Len(t, mine, attempts, "one key per answer")
	assert.Equal(t, 1, active, "one active key per family")
	accepted := 0
	for _, k := range keys {
		if f.accepted(k, u.TenantID) == nil {
			accepted++
		}
	}
	assert.Equal(t, 1, accepted, "AlgaPSA accepts only the family's last key")
	assert.NotNil(t, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt)
	assert.False(t, f.psa.APIKeyRow(t, tok.APIKeyID).Active)
	var successor string
	for s := range o.tokens {
		successor = s
	}
	r, err := f.refresh(successor)
	require.NoError(t, err)
	require.NoError(t, f.accepted(r.AccessToken, u.TenantID))
}

// TestApplianceAdoptionOnSQLite: with the service's own store in SQLite
// (AlgaPSA's database is PostgreSQL whatever the own store), adoption is
// exactly once across two instances sharing the file, and an adopted token
// follows the grace rules: retry inside it → the same successor, after it →
// theft.
func TestApplianceAdoptionOnSQLite(t *testing.T) {
	f := newApplianceFixtureOnSQLite(t)
	second, _, _, events2 := f.replica()
	t.Run("concurrent adoptions on two instances", func(t *testing.T) {
		raceAdoption(t, f, []*authflow.Service{f.svc, second}, []*eventLog{f.events, events2})
	})
	t.Run("retry inside, then after, the grace period", func(t *testing.T) {
		u := f.user()
		tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
		first, err := f.refresh(tok.Token)
		require.NoError(t, err)
		retry, err := second.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "203.0.113.3"})
		require.NoError(t, err)
		assert.Equal(t, first.RefreshToken, retry.RefreshToken)
		fam := f.adoptedFamily(tok).ID
		assert.Equal(t, 1, f.activeKeys(fam))
		f.clock.Advance(grace + time.Second)
		_, err = f.refresh(tok.Token)
		assertCode(t, err, mobileauth.CodeUnauthorized)
		assert.NotNil(t, f.adoptedFamily(tok).RevokedAt)
		assert.Zero(t, f.activeKeys(fam))
		assert.Len(t, f.reuseAudits(fam), 1)
	})
}
