package authflow_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// refreshErr presents rt once and returns only the error.
func (f *fixture) refreshErr(rt string) error {
	f.t.Helper()
	res, err := f.svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: rt, ClientIP: f.nextIP()})
	if err != nil {
		assert.Empty(f.t, res.RefreshToken, "a refused refresh returns no token")
	}
	return err
}

// familyRows counts the refresh tokens stored for a family.
func (f *fixture) familyRows(familyID string) int {
	f.t.Helper()
	return f.count("SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ?", familyID)
}

// assertFamilyRevoked checks that the family and every refresh token in it
// are revoked and that each of the access tokens fails verification.
func (f *fixture) assertFamilyRevoked(familyID string, access ...string) {
	f.t.Helper()
	fam, err := f.store.GetFamily(f.ctx, familyID)
	require.NoError(f.t, err)
	assert.NotNil(f.t, fam.RevokedAt, "family revoked")
	assert.Zero(f.t, f.count("SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ? AND revoked_at IS NULL", familyID),
		"every refresh token of the family revoked")
	for _, a := range access {
		_, err := f.svc.Verify(f.ctx, a)
		assertError(f.t, err, mobileauth.CodeUnauthorized, msgInvalidToken)
	}
}

func TestRefreshRotatesToANewToken(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice)
	s := f.session(alice.Email)
	fam := f.familyOf(s.AccessToken)

	r1 := f.refresh(s.RefreshToken)
	assert.NotEqual(t, s.RefreshToken, r1.RefreshToken)
	assert.Len(t, r1.RefreshToken, token.OpaqueLen)
	assert.NotEqual(t, s.AccessToken, r1.AccessToken)
	assert.Equal(t, int(accessTTL.Seconds()), r1.ExpiresInSec)
	assert.Equal(t, fam, f.familyOf(r1.AccessToken), "the new access token belongs to the same family")
	assert.Equal(t, 2, f.familyRows(fam))

	old, err := f.store.GetRefreshToken(f.ctx, token.HashOf(s.RefreshToken))
	require.NoError(t, err)
	require.NotNil(t, old.RotatedAt)
	require.NotNil(t, old.ReplacedBy)
	assert.Equal(t, token.HashOf(r1.RefreshToken), *old.ReplacedBy)

	// The successor rotates in turn.
	r2 := f.refresh(r1.RefreshToken)
	assert.NotEqual(t, r1.RefreshToken, r2.RefreshToken)
	assert.Equal(t, 3, f.familyRows(fam))
	assert.Len(t, f.audits(mobileauth.AuditRefresh), 2)
	assert.Equal(t, 2, f.events.count("refresh_rotated"))
}

func TestRefreshReplayInsideGraceReturnsSameSuccessor(t *testing.T) {
	for _, wait := range []time.Duration{0, time.Second, grace - time.Millisecond, grace} {
		t.Run("after "+wait.String(), func(t *testing.T) {
			f := newFixture(t)
			f.addUsers(alice)
			s := f.session(alice.Email)
			fam := f.familyOf(s.AccessToken)
			first := f.refresh(s.RefreshToken)

			f.clock.Advance(wait)
			again := f.refresh(s.RefreshToken)
			assert.Equal(t, first.RefreshToken, again.RefreshToken, "same successor")
			assert.NotEqual(t, first.AccessToken, again.AccessToken, "fresh access token")
			assert.Equal(t, fam, f.familyOf(again.AccessToken))
			assert.Equal(t, 2, f.familyRows(fam), "no second successor row")
			assert.Len(t, f.audits(mobileauth.AuditRefresh), 1, "a replay is not a second rotation")
			assert.Empty(t, f.audits(mobileauth.AuditRefreshReuse))
			assert.Equal(t, 1, f.events.count("refresh_grace_replay"))

			// The successor still works afterwards.
			f.refresh(again.RefreshToken)
		})
	}
}

func TestRefreshReplayAfterGraceRevokesFamily(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice)
	s := f.session(alice.Email)
	fam := f.familyOf(s.AccessToken)
	r1 := f.refresh(s.RefreshToken)

	f.clock.Advance(grace + time.Millisecond)
	err := f.refreshErr(s.RefreshToken)
	assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)

	f.assertFamilyRevoked(fam, s.AccessToken, r1.AccessToken)
	assertError(t, f.refreshErr(r1.RefreshToken), mobileauth.CodeUnauthorized, msgInvalidToken)
	ev := f.audits(mobileauth.AuditRefreshReuse)
	require.Len(t, ev, 1)
	assert.Equal(t, fam, ev[0].RecordID)
	assert.Equal(t, alice.ID, ev[0].UserID)
	assert.Equal(t, alice.TenantID, ev[0].TenantID)
	assert.Equal(t, map[string]string{"reason": "after_grace"}, ev[0].Details)
	assert.Equal(t, 1, f.events.count("refresh_reuse_detected/after_grace"))

	// Presenting the stolen token again changes nothing more.
	assertError(t, f.refreshErr(s.RefreshToken), mobileauth.CodeUnauthorized, msgInvalidToken)
	assert.Len(t, f.audits(mobileauth.AuditRefreshReuse), 1)
}

func TestRefreshReplayAfterSuccessorUsedRevokesFamily(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice)
	s := f.session(alice.Email)
	fam := f.familyOf(s.AccessToken)
	r1 := f.refresh(s.RefreshToken)
	r2 := f.refresh(r1.RefreshToken) // the successor is used, still inside the grace

	err := f.refreshErr(s.RefreshToken)
	assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)
	f.assertFamilyRevoked(fam, s.AccessToken, r1.AccessToken, r2.AccessToken)
	assertError(t, f.refreshErr(r2.RefreshToken), mobileauth.CodeUnauthorized, msgInvalidToken)
	ev := f.audits(mobileauth.AuditRefreshReuse)
	require.Len(t, ev, 1)
	assert.Equal(t, "successor_used", ev[0].Details["reason"])
}

func TestRefreshReuseOfAnAncestorRevokesEveryDescendant(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice, bob)
	s := f.session(alice.Email)
	fam := f.familyOf(s.AccessToken)
	other := f.session(bob.Email) // an unrelated family, which must survive

	chain := []string{s.RefreshToken}
	access := []string{s.AccessToken}
	for range 4 {
		f.clock.Advance(time.Minute)
		r := f.refresh(chain[len(chain)-1])
		chain, access = append(chain, r.RefreshToken), append(access, r.AccessToken)
	}
	require.Equal(t, 5, f.familyRows(fam))

	// The attacker replays the second token of the chain.
	assertError(t, f.refreshErr(chain[1]), mobileauth.CodeUnauthorized, msgInvalidToken)
	f.assertFamilyRevoked(fam, access...)
	for _, rt := range chain {
		assertError(t, f.refreshErr(rt), mobileauth.CodeUnauthorized, msgInvalidToken)
	}

	_, err := f.svc.Verify(f.ctx, other.AccessToken)
	assert.NoError(t, err, "another family is untouched")
	f.refresh(other.RefreshToken)
}

func TestRefreshRefusals(t *testing.T) {
	cases := []struct {
		name    string
		opts    []option
		prepare func(t *testing.T, f *fixture, s authflow.ExchangeResult) string
		code    mobileauth.Code
		msg     string
	}{
		{
			name:    "empty token is a validation error",
			prepare: func(*testing.T, *fixture, authflow.ExchangeResult) string { return "" },
			code:    mobileauth.CodeValidation,
		},
		{
			name:    "oversized token",
			prepare: func(*testing.T, *fixture, authflow.ExchangeResult) string { return strings.Repeat("a", 513) },
			code:    mobileauth.CodeUnauthorized, msg: msgInvalidToken,
		},
		{
			name:    "unknown token",
			prepare: func(*testing.T, *fixture, authflow.ExchangeResult) string { return "never-issued-refresh-token" },
			code:    mobileauth.CodeUnauthorized, msg: msgInvalidToken,
		},
		{
			name: "expired token",
			prepare: func(_ *testing.T, f *fixture, s authflow.ExchangeResult) string {
				f.clock.Advance(refreshTTL)
				return s.RefreshToken
			},
			code: mobileauth.CodeUnauthorized, msg: msgInvalidToken,
		},
		{
			name: "revoked token",
			prepare: func(t *testing.T, f *fixture, s authflow.ExchangeResult) string {
				require.NoError(t, f.svc.Revoke(f.ctx, authflow.RevokeRequest{RefreshToken: s.RefreshToken}))
				return s.RefreshToken
			},
			code: mobileauth.CodeUnauthorized, msg: msgInvalidToken,
		},
		{
			name: "rotated token of a revoked family",
			prepare: func(t *testing.T, f *fixture, s authflow.ExchangeResult) string {
				r1 := f.refresh(s.RefreshToken)
				require.NoError(t, f.svc.Revoke(f.ctx, authflow.RevokeRequest{RefreshToken: r1.RefreshToken}))
				return s.RefreshToken
			},
			code: mobileauth.CodeUnauthorized, msg: msgInvalidToken,
		},
		{
			name: "tenant plan lost mobile access",
			opts: []option{hosted()},
			prepare: func(t *testing.T, f *fixture, s authflow.ExchangeResult) string {
				require.NoError(t, f.store.SetTenantPlan(f.ctx, alice.TenantID, mobileauth.TierEssentials))
				return s.RefreshToken
			},
			code: mobileauth.CodeForbidden, msg: msgPlan,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts...)
			f.addUsers(alice)
			s := f.session(alice.Email)
			rt := tc.prepare(t, f, s)
			err := f.refreshErr(rt)
			assertError(t, err, tc.code, tc.msg)
			assert.Empty(t, f.audits(mobileauth.AuditRefreshReuse), "no theft detected")
		})
	}
}

func TestRefreshOfAUserMadeInactiveElsewhereRevokesFamily(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice)
	s := f.session(alice.Email)
	fam := f.familyOf(s.AccessToken)
	// `users disable` revokes at once (below); a directory changed by other
	// means leaves the family live until its next refresh ends it.
	_, err := f.store.DB().ExecContext(f.ctx, "UPDATE users SET active = 0 WHERE tenant_id = ? AND id = ?", alice.TenantID, alice.ID)
	require.NoError(t, err)

	assertError(t, f.refreshErr(s.RefreshToken), mobileauth.CodeUnauthorized, msgInvalidToken)
	f.assertFamilyRevoked(fam, s.AccessToken)
}

func TestDisablingAUserEndsEverySessionForGood(t *testing.T) {
	const freshness = 20 * time.Millisecond
	f := newFixture(t, withSettings(func(s *authflow.Settings) { s.RevocationFreshness = freshness }))
	f.addUsers(alice, bob)
	app := f.session(alice.Email)
	browser := f.signIn(alice.Email)
	other := f.session(bob.Email)
	fam := f.familyOf(app.AccessToken)
	require.NoError(t, f.store.SetUserActive(f.ctx, alice.TenantID, alice.Email, false, f.clock.Now()))

	// Nothing is presented while she is disabled (a stolen token lying
	// low): the revocation must not depend on a refresh coming by.
	got, err := f.store.GetFamily(f.ctx, fam)
	require.NoError(t, err)
	assert.NotNil(t, got.RevokedAt, "the family is revoked by the disable itself")
	f.clock.Advance(freshness)
	_, err = f.svc.Verify(f.ctx, app.AccessToken)
	assert.Error(t, err, "the access token stops verifying within the revocation view's freshness")
	assert.Empty(t, f.audits(mobileauth.AuditRefreshReuse), "not theft")

	require.NoError(t, f.store.SetUserActive(f.ctx, alice.TenantID, alice.Email, true, f.clock.Now()))
	assertError(t, f.refreshErr(app.RefreshToken), mobileauth.CodeUnauthorized, msgInvalidToken)
	_, err = f.svc.WebSession(f.ctx, cookies(browser))
	assert.Error(t, err, "the browser session stays signed out")
	f.session(alice.Email) // signing in anew works

	f.refresh(other.RefreshToken) // another user's session is untouched
}

func TestRefreshRateLimitPerIP(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice)
	s := f.session(alice.Email)
	req := authflow.RefreshRequest{RefreshToken: "unknown", ClientIP: "192.0.2.1"}
	for range 30 {
		_, err := f.svc.Refresh(f.ctx, req)
		assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)
	}
	// The 31st is refused before the token is even looked at: a valid
	// token from that address is refused too, and stays usable.
	_, err := f.svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: s.RefreshToken, ClientIP: "192.0.2.1"})
	var rl *authflow.RateLimitedError
	require.ErrorAs(t, err, &rl)
	assert.InDelta(t, (5 * time.Minute).Seconds(), rl.RetryAfter.Seconds(), 1)
	f.refresh(s.RefreshToken)
}

func TestRefreshRateLimitPerUserKeepsThePresentedToken(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice, bob)
	s := f.session(alice.Email)
	rt := s.RefreshToken
	for range 30 {
		rt = f.refresh(rt).RefreshToken // each from a fresh address
	}
	_, err := f.svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: rt, ClientIP: f.nextIP()})
	var rl *authflow.RateLimitedError
	require.ErrorAs(t, err, &rl)
	assert.InDelta(t, (5 * time.Minute).Seconds(), rl.RetryAfter.Seconds(), 1)

	// Another user is not affected.
	f.refresh(f.session(bob.Email).RefreshToken)

	// A refused refresh must not have rotated the token: once the block
	// ends (long past any grace period), the client's token still works
	// and is not mistaken for a stolen one.
	f.clock.Advance(5 * time.Minute)
	f.refresh(rt)
	assert.Empty(t, f.audits(mobileauth.AuditRefreshReuse))
}

// Issue 11 item 4: presentations of dead refresh tokens (revoked, rotated
// long ago, expired) from many addresses must not use up the owner's
// per-user limit, or anyone holding an old token could lock every device
// of the user out of refreshing.
func TestRefreshDeadTokensDoNotCountAgainstTheUser(t *testing.T) {
	cases := []struct {
		name string
		// dead returns a dead token of alice; her other session stays live.
		dead func(f *fixture) string
	}{
		{"revoked", func(f *fixture) string {
			s := f.session(alice.Email)
			require.NoError(t, f.svc.Revoke(f.ctx, authflow.RevokeRequest{RefreshToken: s.RefreshToken}))
			return s.RefreshToken
		}},
		{"rotated, family since revoked", func(f *fixture) string {
			s := f.session(alice.Email)
			f.refresh(s.RefreshToken)
			f.clock.Advance(grace + time.Second)
			assertError(t, f.refreshErr(s.RefreshToken), mobileauth.CodeUnauthorized, msgInvalidToken) // theft detection
			return s.RefreshToken
		}},
		{"expired", func(f *fixture) string {
			s := f.session(alice.Email)
			f.clock.Advance(refreshTTL + time.Second)
			return s.RefreshToken
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, hosted()) // no trial to run out while the clock moves
			f.addUsers(alice)
			dead := tc.dead(f)
			live := f.session(alice.Email)
			for range 100 {
				_, err := f.svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: dead, ClientIP: f.nextIP()})
				assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)
			}
			f.refresh(live.RefreshToken) // the user's live token still refreshes
		})
	}
}

// A replay inside the grace period is answered 200, so it is not a dead
// token: a storm of retries of one just-rotated token, from any number of
// addresses, is still held to the per-user limit (30 a minute).
func TestRefreshGraceReplaysCountAgainstTheUser(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice)
	rt := f.session(alice.Email).RefreshToken
	successor := f.refresh(rt).RefreshToken // 1 of 30
	for range 29 {
		assert.Equal(t, successor, f.refresh(rt).RefreshToken, "a grace replay gets the same successor")
	}
	_, err := f.svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: rt, ClientIP: f.nextIP()})
	var rl *authflow.RateLimitedError
	require.ErrorAs(t, err, &rl, "the 31st replay in a minute is refused")
}

func TestRefreshRefusedByThePlanKeepsThePresentedToken(t *testing.T) {
	f := newFixture(t, hosted())
	f.addUsers(alice)
	s := f.session(alice.Email)
	require.NoError(t, f.store.SetTenantPlan(f.ctx, alice.TenantID, mobileauth.TierEssentials))
	assertError(t, f.refreshErr(s.RefreshToken), mobileauth.CodeForbidden, msgPlan)

	// The plan comes back later: the client's token still works, and its
	// retry is not mistaken for theft.
	f.clock.Advance(time.Hour)
	require.NoError(t, f.store.SetTenantPlan(f.ctx, alice.TenantID, mobileauth.TierPro))
	f.refresh(s.RefreshToken)
	assert.Empty(t, f.audits(mobileauth.AuditRefreshReuse))
}

func TestRefreshOfARotatedTokenIsJudgedBeforeThePlan(t *testing.T) {
	cases := []struct {
		name  string
		wait  time.Duration
		code  mobileauth.Code
		msg   string
		theft bool // reuse detected: family revoked and audited
	}{
		{name: "replay inside the grace is refused by the plan", wait: time.Second, code: mobileauth.CodeForbidden, msg: msgPlan},
		{name: "replay after the grace is still theft", wait: grace + time.Second, code: mobileauth.CodeUnauthorized, msg: msgInvalidToken, theft: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, hosted())
			f.addUsers(alice)
			s := f.session(alice.Email)
			fam := f.familyOf(s.AccessToken)
			r1 := f.refresh(s.RefreshToken)
			require.NoError(t, f.store.SetTenantPlan(f.ctx, alice.TenantID, mobileauth.TierEssentials))
			f.clock.Advance(tc.wait)

			assertError(t, f.refreshErr(s.RefreshToken), tc.code, tc.msg)
			reuses := f.audits(mobileauth.AuditRefreshReuse)
			if !tc.theft {
				assert.Empty(t, reuses)
				return
			}
			assert.Len(t, reuses, 1)
			f.assertFamilyRevoked(fam, r1.AccessToken)
		})
	}
}

// Issue 11 item 8: a family ends at its absolute lifetime, however often
// it was refreshed before.
func TestRefreshFamilyHasAnAbsoluteLifetime(t *testing.T) {
	f := newFixture(t, hosted(), withSettings(func(s *authflow.Settings) { s.FamilyMaxAge = 3 * time.Hour }))
	f.addUsers(alice)
	rt := f.session(alice.Email).RefreshToken
	for range 5 {
		f.clock.Advance(30 * time.Minute)
		rt = f.refresh(rt).RefreshToken
	}
	f.clock.Advance(31 * time.Minute)
	assertError(t, f.refreshErr(rt), mobileauth.CodeUnauthorized, msgInvalidToken)
	f.session(alice.Email) // signing in again works
}
