package authflow_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa"
	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
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

// missThen runs hook once, when a lookup in the own store misses: what it
// does lands between a refresh's look here and its look in AlgaPSA's
// database.
type missThen struct {
	mobileauth.RefreshStore
	hook func()
}

func (m *missThen) GetRefreshToken(ctx context.Context, h mobileauth.Hash) (mobileauth.RefreshToken, error) {
	rt, err := m.RefreshStore.GetRefreshToken(ctx, h)
	if errors.Is(err, mobileauth.ErrNotFound) && m.hook != nil {
		hook := m.hook
		m.hook = nil
		hook()
	}
	return rt, err
}

// TestApplianceAdoptionOvertaken: a presentation that missed the token in
// the own store, while another (on another instance) adopts it completely
// before this one reads AlgaPSA's row, finds that row claimed: it is
// answered from the adopted family, as a retry inside the grace period,
// not with a 401.
func TestApplianceAdoptionOvertaken(t *testing.T) {
	f := newApplianceFixture(t)
	hooked := &missThen{}
	second, _, _, _ := f.replicaWith(func(st mobileauth.RefreshStore) mobileauth.RefreshStore {
		hooked.RefreshStore = st
		return hooked
	})
	u := f.user()
	tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
	var first authflow.RefreshResult
	hooked.hook = func() {
		var err error
		first, err = f.refresh(tok.Token)
		require.NoError(t, err, "the other instance adopts it")
	}
	r, err := second.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "203.0.113.4"})
	require.Nil(t, hooked.hook, "the hook ran")
	require.NoError(t, err)
	assert.Equal(t, first.RefreshToken, r.RefreshToken, "the same successor")
	require.NoError(t, f.accepted(r.AccessToken, u.TenantID))
	assert.Equal(t, 1, f.activeKeys(f.adoptedFamily(tok).ID))
}

// TestApplianceAdoptionSettledByAnyPresentation: a presentation that meets
// the adoption's family before its creator claimed AlgaPSA's row settles it
// itself (no answer hands out a family whose claim may still fail): it
// claims the row, and the creator, finding it claimed by an adoption,
// confirms all the same; both get the one successor. When AlgaPSA rotated
// the token first, both get 401 and no key is left active.
func TestApplianceAdoptionSettledByAnyPresentation(t *testing.T) {
	f := newApplianceFixture(t)
	for _, tc := range []struct {
		name    string
		rotated bool
	}{{"claim succeeds", false}, {"AlgaPSA rotated the token first", true}} {
		t.Run(tc.name, func(t *testing.T) {
			hook := &algaHook{}
			creator := f.replicaVia(hook)
			u := f.user()
			tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
			var (
				wres authflow.RefreshResult
				werr error
			)
			hook.before = func(mobileauth.Hash) error {
				if tc.rotated {
					rotateInAlgaPSA(t, f, u, tok)
				}
				wres, werr = f.refresh(tok.Token) // meets the pending family
				return nil
			}
			res, err := creator.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "203.0.113.6"})
			require.Nil(t, hook.before, "the hook ran")
			mine := f.psa.APIKeyRows(t, "user_id = $1 AND metadata->>'issuer' = $2 AND active", u.ID, algapsa.KeyIssuer)
			if tc.rotated {
				assertCode(t, err, mobileauth.CodeUnauthorized)
				assertCode(t, werr, mobileauth.CodeUnauthorized)
				assert.NotNil(t, f.adoptedFamily(tok).RevokedAt)
				assert.Empty(t, mine, "no active key")
				return
			}
			require.NoError(t, werr)
			require.NoError(t, err)
			assert.Equal(t, res.RefreshToken, wres.RefreshToken, "the same successor")
			assert.Len(t, mine, 1, "one active key")
			assert.False(t, f.adoptedFamily(tok).AdoptionPending)
		})
	}
}

// rotateInAlgaPSA does what AlgaPSA's own refresh endpoint does to tok: a
// successor row, and tok revoked and replaced by it.
func rotateInAlgaPSA(t *testing.T, f *applianceFixture, u algapsatest.User, tok algapsatest.AlgaToken) {
	t.Helper()
	next := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
	f.psa.Exec(t, "UPDATE mobile_refresh_tokens SET revoked_at = now(), last_used_at = now(), replaced_by_id = $2"+
		" WHERE mobile_refresh_token_id = $1", tok.ID, next.ID)
}
