package authflow_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/authjs/authjstest"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// TestApplianceHandoffRefusals: every web session that AlgaPSA would not
// honour sends the browser to sign in (or, for a user now of type client,
// back to the app with client_not_allowed), and no OTT is issued.
func TestApplianceHandoffRefusals(t *testing.T) {
	f := newApplianceFixture(t)
	cases := []struct {
		name    string
		cookies func() map[string]string
		want    authflow.HandoffOutcome
		refusal string
	}{
		{name: "no cookie", cookies: func() map[string]string { return nil }, want: authflow.HandoffSignIn},
		{name: "unknown session", want: authflow.HandoffSignIn, cookies: func() map[string]string {
			return f.cookies(claims(f.user(), uuid.NewString()))
		}},
		{name: "revoked session", want: authflow.HandoffSignIn, cookies: func() map[string]string {
			u := f.user()
			c, sid := f.webSignIn(u)
			f.psa.RevokeSession(t, u.TenantID, sid)
			return c
		}},
		{name: "expired session row", want: authflow.HandoffSignIn, cookies: func() map[string]string {
			u := f.user()
			return f.cookies(claims(u, f.psa.AddSession(t, u.TenantID, u.ID, -time.Minute)))
		}},
		{name: "session of another user", want: authflow.HandoffSignIn, cookies: func() map[string]string {
			u, other := f.user(), f.user()
			return f.cookies(claims(u, f.psa.AddSession(t, other.TenantID, other.ID, time.Hour)))
		}},
		{name: "user inactive", want: authflow.HandoffSignIn, cookies: func() map[string]string {
			u := f.user()
			c, _ := f.webSignIn(u)
			f.psa.SetUserInactive(t, u.TenantID, u.ID, true)
			return c
		}},
		{name: "user_type changed to client", want: authflow.HandoffRefused, refusal: authflow.RefuseClientUser,
			cookies: func() map[string]string {
				u := f.user()
				c, _ := f.webSignIn(u)
				f.psa.SetUserType(t, u.TenantID, u.ID, "client")
				return c
			}},
		{name: "client user", want: authflow.HandoffRefused, refusal: authflow.RefuseClientUser,
			cookies: func() map[string]string {
				u := f.psa.AddUser(t, algapsatest.User{Email: "c-" + uuid.NewString()[:8] + "@customer.example", Type: "client"})
				c, _ := f.webSignIn(u)
				return c
			}},
		{name: "cookie claims client, user now internal", want: authflow.HandoffSignIn, cookies: func() map[string]string {
			u := f.user()
			sid := f.psa.AddSession(t, u.TenantID, u.ID, time.Hour)
			c := claims(u, sid)
			c["user_type"] = "client"
			return f.cookies(c)
		}},
		{name: "wrong secret", want: authflow.HandoffSignIn, cookies: func() map[string]string {
			u := f.user()
			sid := f.psa.AddSession(t, u.TenantID, u.ID, time.Hour)
			cs, err := authjstest.Cookies(authjstest.Token{Secret: "another-secret-entirely-0123456789", CookieName: f.cookie,
				Claims: claims(u, sid), Now: f.clock.Now()})
			require.NoError(t, err)
			return cs
		}},
		{name: "cookie-name salt mismatch", want: authflow.HandoffSignIn, cookies: func() map[string]string {
			u := f.user()
			sid := f.psa.AddSession(t, u.TenantID, u.ID, time.Hour)
			v, err := authjstest.Encode(authjstest.Token{Secret: nextAuthSecret, CookieName: "authjs.session-token",
				Claims: claims(u, sid), Now: f.clock.Now()})
			require.NoError(t, err)
			return map[string]string{f.cookie: v}
		}},
		{name: "tampered cookie", want: authflow.HandoffSignIn, cookies: func() map[string]string {
			c, _ := f.webSignIn(f.user())
			v := []byte(c[f.cookie])
			v[len(v)-30] ^= 1
			return map[string]string{f.cookie: string(v)}
		}},
		{name: "expired cookie", want: authflow.HandoffSignIn, cookies: func() map[string]string {
			u := f.user()
			sid := f.psa.AddSession(t, u.TenantID, u.ID, time.Hour)
			cs, err := authjstest.Cookies(authjstest.Token{Secret: nextAuthSecret, CookieName: f.cookie,
				Claims: claims(u, sid), Now: f.clock.Now().Add(-2 * time.Hour), MaxAge: time.Hour})
			require.NoError(t, err)
			return cs
		}},
		{name: "session_id missing", want: authflow.HandoffSignIn, cookies: func() map[string]string {
			u := f.user()
			f.psa.AddSession(t, u.TenantID, u.ID, time.Hour)
			c := claims(u, "")
			delete(c, "session_id")
			return f.cookies(c)
		}},
		{name: "tenant missing", want: authflow.HandoffSignIn, cookies: func() map[string]string {
			u := f.user()
			c := claims(u, f.psa.AddSession(t, u.TenantID, u.ID, time.Hour))
			delete(c, "tenant")
			return f.cookies(c)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.events.count("ott_issued")
			res := f.handoff(f.svc, tc.cookies())
			assert.Equal(t, tc.want, res.Outcome, res.Location)
			assert.Equal(t, tc.refusal, res.Refusal)
			if tc.want == authflow.HandoffSignIn {
				assert.Contains(t, res.Location, "/auth/signin?callbackUrl=")
			}
			assert.Equal(t, before, f.events.count("ott_issued"), "no OTT issued")
		})
	}
}

// TestApplianceExchangeRechecksWebSession: the OTT remembers AlgaPSA's
// session, and the exchange reads it again: a web sign-out, or the user's
// deactivation, between hand-off and exchange → 401.
func TestApplianceExchangeRechecksWebSession(t *testing.T) {
	f := newApplianceFixture(t)
	for _, tc := range []struct {
		name  string
		after func(u algapsatest.User, sid string)
	}{
		{"web sign-out", func(u algapsatest.User, sid string) { f.psa.RevokeSession(t, u.TenantID, sid) }},
		{"session row expired", func(u algapsatest.User, sid string) {
			f.psa.Exec(t, "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE session_id = $1", sid)
		}},
		{"user inactive", func(u algapsatest.User, _ string) { f.psa.SetUserInactive(t, u.TenantID, u.ID, true) }},
		{"user now a client", func(u algapsatest.User, _ string) { f.psa.SetUserType(t, u.TenantID, u.ID, "client") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := f.user()
			c, sid := f.webSignIn(u)
			ott := f.ott(c)
			tc.after(u, sid)
			_, err := f.exchange(ott)
			assertCode(t, err, mobileauth.CodeUnauthorized)
			assert.Empty(t, f.psa.APIKeyRows(t, "user_id = $1", u.ID), "no key minted")
		})
	}
}

// TestApplianceExchangeMintsAPIKey: the exchange answers an AlgaPSA API key
// (no JWT) that AlgaPSA's API accepts, stored column by column as SPEC
// §8.4 says, and /verify accepts it with the user's identity.
func TestApplianceExchangeMintsAPIKey(t *testing.T) {
	f := newApplianceFixture(t)
	u := f.user()
	c, _ := f.webSignIn(u)
	before := f.psa.Now(t)
	res, err := f.exchange(f.ott(c))
	require.NoError(t, err)
	assert.Regexp(t, "^[0-9a-f]{64}$", res.AccessToken)
	assert.Equal(t, u.TenantID, res.TenantID)
	assert.Equal(t, authflow.UserInfo{ID: u.ID, Email: u.Email, Name: "Tess Tech"}, res.User)
	assert.Equal(t, int(accessTTL.Seconds()), res.ExpiresInSec)
	require.NoError(t, f.accepted(res.AccessToken, res.TenantID))

	p, err := f.svc.Verify(f.ctx, res.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, authflow.Principal{UserID: u.ID, TenantID: u.TenantID, Email: u.Email, SessionID: p.SessionID}, p)
	rows := f.keyRows(p.SessionID)
	require.Len(t, rows, 1)
	r := rows[0]
	assert.Equal(t, algapsatest.SHA256Hex(res.AccessToken), r.APIKey)
	assert.Equal(t, u.TenantID, r.TenantID)
	assert.Equal(t, u.ID, r.UserID)
	require.NotNil(t, r.Description)
	assert.Equal(t, "Mobile session", *r.Description)
	assert.Equal(t, "mobile_session", r.Purpose)
	assert.Equal(t, p.SessionID, r.Metadata["familyId"])
	assert.Equal(t, map[string]any{"platform": "ios", "appVersion": "1.4.0", "buildVersion": "140", "deviceId": "dev-1"}, r.Metadata["device"])
	assert.Nil(t, r.UsageLimit)
	assert.True(t, r.Active)
	require.NotNil(t, r.ExpiresAt)
	assert.WithinDuration(t, before.Add(accessTTL), *r.ExpiresAt, 5*time.Second)

	_, err = f.svc.Verify(f.ctx, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	assertCode(t, err, mobileauth.CodeUnauthorized)
}

// TestApplianceKeyLifecycle: the key AlgaPSA accepts after the exchange is
// refused after a refresh (the new one accepted), after revoke, after theft
// detection and once the user is deactivated or made a client in AlgaPSA
// (whose next refresh answers 401 and deactivates their keys).
func TestApplianceKeyLifecycle(t *testing.T) {
	eachLicensing(t, func(t *testing.T, f *applianceFixture) {

		t.Run("refresh", func(t *testing.T) {
			s := f.session(f.user())
			r, err := f.refresh(s.RefreshToken)
			require.NoError(t, err)
			assert.ErrorIs(t, f.accepted(s.AccessToken, s.TenantID), algapsatest.ErrKeyUnknown, "the previous key is deactivated")
			require.NoError(t, f.accepted(r.AccessToken, s.TenantID))
			assert.Equal(t, 1, f.activeKeys(f.familyOf(r.AccessToken)))
			_, err = f.svc.Verify(f.ctx, s.AccessToken)
			assertCode(t, err, mobileauth.CodeUnauthorized)
		})
		t.Run("revoke", func(t *testing.T) {
			s := f.session(f.user())
			fam := f.familyOf(s.AccessToken)
			require.NoError(t, f.svc.Revoke(f.ctx, authflow.RevokeRequest{RefreshToken: s.RefreshToken}))
			assert.ErrorIs(t, f.accepted(s.AccessToken, s.TenantID), algapsatest.ErrKeyUnknown)
			assert.Zero(t, f.activeKeys(fam))
			_, err := f.svc.Verify(f.ctx, s.AccessToken)
			assertCode(t, err, mobileauth.CodeUnauthorized)
		})
		t.Run("theft detection", func(t *testing.T) {
			s := f.session(f.user())
			r, err := f.refresh(s.RefreshToken)
			require.NoError(t, err)
			f.clock.Advance(grace + time.Second)
			_, err = f.refresh(s.RefreshToken)
			assertCode(t, err, mobileauth.CodeUnauthorized)
			assert.ErrorIs(t, f.accepted(r.AccessToken, s.TenantID), algapsatest.ErrKeyUnknown, "the family's live key is deactivated")
			_, err = f.refresh(r.RefreshToken)
			assertCode(t, err, mobileauth.CodeUnauthorized)
		})
		for _, tc := range []struct {
			name   string
			change func(u algapsatest.User)
		}{
			{"user deactivated", func(u algapsatest.User) { f.psa.SetUserInactive(t, u.TenantID, u.ID, true) }},
			{"user made a client", func(u algapsatest.User) { f.psa.SetUserType(t, u.TenantID, u.ID, "client") }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u := f.user()
				s := f.session(u)
				other := f.session(u) // a second phone of the same user
				tc.change(u)
				assert.Error(t, f.accepted(s.AccessToken, s.TenantID), "AlgaPSA refuses the owner at once")
				_, err := f.refresh(s.RefreshToken)
				assertCode(t, err, mobileauth.CodeUnauthorized)
				f.assertUserKeysEnded(t, u.ID)
				_, err = f.refresh(other.RefreshToken)
				assertCode(t, err, mobileauth.CodeUnauthorized)
				_, err = f.svc.Verify(f.ctx, other.AccessToken)
				assertCode(t, err, mobileauth.CodeUnauthorized)
			})
		}
	})
}

// TestApplianceDirectoryAndPlans: the sidecar's own sign-in maps e-mails to
// AlgaPSA's users (inactive refused, an address in two tenants refused);
// the tenant's plan decides under hosted licensing.
func TestApplianceDirectoryAndPlans(t *testing.T) {
	f := newApplianceFixture(t)

	t.Run("own sign-in maps to AlgaPSA users", func(t *testing.T) {
		u := f.user()
		res, err := f.svc.SignIn(f.ctx, authflow.SignInRequest{Provider: "google", Email: "  " + u.Email + " "})
		require.NoError(t, err)
		assert.Equal(t, u.ID, res.User.ID)
		ott := f.ott(map[string]string{authflow.DefaultSessionCookie: res.SessionID})
		ex, err := f.exchange(ott)
		require.NoError(t, err)
		require.NoError(t, f.accepted(ex.AccessToken, u.TenantID))

		inactive := f.psa.AddUser(t, algapsatest.User{Email: "gone-" + uuid.NewString()[:8] + "@example.com", Inactive: true})
		_, err = f.svc.SignIn(f.ctx, authflow.SignInRequest{Provider: "google", Email: inactive.Email})
		assert.ErrorIs(t, err, authflow.ErrUnknownUser)
		twice := f.user()
		f.psa.AddUser(t, algapsatest.User{Email: twice.Email})
		_, err = f.svc.SignIn(f.ctx, authflow.SignInRequest{Provider: "google", Email: twice.Email})
		assert.ErrorIs(t, err, authflow.ErrAmbiguousUser)
	})
	t.Run("plan without mobile access", func(t *testing.T) {
		u := f.user()
		c, _ := f.webSignIn(u)
		ott := f.ott(c)
		essentials := "essentials"
		f.psa.SetPlan(t, u.TenantID, &essentials)
		_, err := f.exchange(ott)
		assertError(t, err, mobileauth.CodeForbidden, "Mobile app access is not available on your plan")
	})
}

// TestApplianceSuspendedTenant: a tenant AlgaPSA suspended gets no mobile
// access (403 with the plan sentence) at exchange and refresh, its keys are
// refused, and its sessions live on once it is resumed.
func TestApplianceSuspendedTenant(t *testing.T) {
	eachLicensing(t, func(t *testing.T, f *applianceFixture) {
		u := f.user()
		s := f.session(u)
		c, _ := f.webSignIn(u)
		ott := f.ott(c)
		f.psa.SetSuspended(t, u.TenantID, true)
		_, err := f.exchange(ott)
		assertError(t, err, mobileauth.CodeForbidden, "Mobile app access is not available on your plan")
		_, err = f.refresh(s.RefreshToken)
		assertError(t, err, mobileauth.CodeForbidden, "Mobile app access is not available on your plan")
		assert.Error(t, f.accepted(s.AccessToken, u.TenantID))
		_, err = f.svc.Verify(f.ctx, s.AccessToken)
		assertCode(t, err, mobileauth.CodeUnauthorized)

		f.psa.SetSuspended(t, u.TenantID, false)
		r, err := f.refresh(s.RefreshToken)
		require.NoError(t, err, "the session lives on once the tenant is resumed")
		require.NoError(t, f.accepted(r.AccessToken, u.TenantID))
		assert.Equal(t, 1, f.activeKeys(f.familyOf(r.AccessToken)))
	})
}

// TestApplianceAdoption: a refresh token AlgaPSA issued is adopted once (its
// row revoked and used now, its key deactivated, a new family here with a
// normal answer); presented again inside the grace period it gets the same
// successor, as any rotated token (§3.5); /revoke revokes one; expired,
// revoked and unknown ones are 401.
func TestApplianceAdoption(t *testing.T) {
	eachLicensing(t, func(t *testing.T, f *applianceFixture) {

		t.Run("adopted once", func(t *testing.T) {
			u := f.user()
			tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, 24*time.Hour)
			require.NoError(t, f.accepted(tok.APIKey, u.TenantID))
			res, err := f.refresh(tok.Token)
			require.NoError(t, err)
			assert.Regexp(t, "^[0-9a-f]{64}$", res.AccessToken)
			assert.NotEqual(t, tok.Token, res.RefreshToken)
			assert.Equal(t, int(accessTTL.Seconds()), res.ExpiresInSec)
			require.NoError(t, f.accepted(res.AccessToken, u.TenantID))

			row := f.psa.RefreshTokenRow(t, tok.ID)
			assert.NotNil(t, row.RevokedAt)
			assert.NotNil(t, row.LastUsedAt)
			assert.ErrorIs(t, f.accepted(tok.APIKey, u.TenantID), algapsatest.ErrKeyUnknown, "AlgaPSA's key is deactivated")
			assert.False(t, f.psa.APIKeyRow(t, tok.APIKeyID).Active)

			retry, err := f.refresh(tok.Token)
			require.NoError(t, err, "a retry inside the grace period answers 200 (SPEC §3.5, §8.5)")
			assert.Equal(t, res.RefreshToken, retry.RefreshToken, "the same successor")
			assert.NotEqual(t, res.AccessToken, retry.AccessToken, "a fresh access token")
			require.NoError(t, f.accepted(retry.AccessToken, u.TenantID))
			assert.Error(t, f.accepted(res.AccessToken, u.TenantID), "one active key per family")
			next, err := f.refresh(res.RefreshToken)
			require.NoError(t, err, "the new family rotates as any other")
			require.NoError(t, f.accepted(next.AccessToken, u.TenantID))
			assert.Error(t, f.accepted(res.AccessToken, u.TenantID))
			assert.Error(t, f.accepted(retry.AccessToken, u.TenantID))
		})
		t.Run("revoke", func(t *testing.T) {
			u := f.user()
			tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, 24*time.Hour)
			require.NoError(t, f.svc.Revoke(f.ctx, authflow.RevokeRequest{RefreshToken: tok.Token}))
			assert.NotNil(t, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt)
			assert.False(t, f.psa.APIKeyRow(t, tok.APIKeyID).Active)
			_, err := f.refresh(tok.Token)
			assertCode(t, err, mobileauth.CodeUnauthorized)
			require.NoError(t, f.svc.Revoke(f.ctx, authflow.RevokeRequest{RefreshToken: "never-issued"}))
		})
		t.Run("expired", func(t *testing.T) {
			u := f.user()
			tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, -time.Minute)
			_, err := f.refresh(tok.Token)
			assertCode(t, err, mobileauth.CodeUnauthorized)
			assert.Nil(t, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt)
		})
		t.Run("owner inactive", func(t *testing.T) {
			u := f.user()
			tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, 24*time.Hour)
			f.psa.SetUserInactive(t, u.TenantID, u.ID, true)
			_, err := f.refresh(tok.Token)
			assertCode(t, err, mobileauth.CodeUnauthorized)
			assert.Empty(t, f.psa.APIKeyRows(t, "user_id = $1 AND active", u.ID))
		})
	})
}

// TestApplianceLeavesAlgaPSASchemaAlone: a full run (hand-off, exchange,
// refresh, theft detection, adoption, revoke, verify, housekeeping) changes
// rows only: the stand-in's catalog is the same before and after.
func TestApplianceLeavesAlgaPSASchemaAlone(t *testing.T) {
	f := newApplianceFixture(t)
	before := f.psa.Catalog(t)

	u := f.user()
	s := f.session(u)
	r, err := f.refresh(s.RefreshToken)
	require.NoError(t, err)
	_, err = f.svc.Verify(f.ctx, r.AccessToken)
	require.NoError(t, err)
	f.clock.Advance(grace + time.Second)
	_, err = f.refresh(s.RefreshToken)
	assertCode(t, err, mobileauth.CodeUnauthorized)
	tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
	a, err := f.refresh(tok.Token)
	require.NoError(t, err)
	require.NoError(t, f.svc.Revoke(f.ctx, authflow.RevokeRequest{RefreshToken: a.RefreshToken}))
	other := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
	require.NoError(t, f.svc.Revoke(f.ctx, authflow.RevokeRequest{RefreshToken: other.Token}))
	_, err = f.db.SweepAPIKeys(f.ctx)
	require.NoError(t, err)

	assert.Equal(t, before, f.psa.Catalog(t))
}

// TestApplianceConcurrency: on two service instances sharing both
// databases, 200 concurrent refreshes of one token make one successor and
// leave one active key in the family (every other minted key inactive), and
// 200 concurrent adoptions of one AlgaPSA-issued token claim AlgaPSA's row
// once, start one family and all answer 200 with its one successor (§3.5's
// grace rules), leaving one active key.
func TestApplianceConcurrency(t *testing.T) {
	eachLicensing(t, func(t *testing.T, f *applianceFixture) {
		second, _, _, events2 := f.replica()
		svcs := []*authflow.Service{f.svc, second}

		t.Run("refreshes of one token", func(t *testing.T) {
			s := f.session(f.user())
			fam := f.familyOf(s.AccessToken)
			o := newOutcomes()
			keys := make([]string, attempts)
			race(attempts, func(i int) {
				res, err := svcs[i%2].Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: s.RefreshToken, ClientIP: "203.0.113.1"})
				keys[i] = res.AccessToken
				o.add(res.RefreshToken, err)
			})
			rows := f.keyRows(fam)
			t.Logf("%d concurrent refreshes of one token on 2 instances: %d succeeded with %d distinct refresh token(s), failures %v %v; family keys %d, active %d",
				attempts, o.ok, len(o.tokens), o.byCode, o.errs, len(rows), f.activeKeys(fam))
			assert.Equal(t, attempts, o.ok, "all inside the grace period")
			require.Len(t, o.tokens, 1, "one successor")
			assert.Empty(t, o.errs)
			var successor string
			for tok := range o.tokens {
				successor = tok
			}
			old, err := f.store.GetRefreshToken(f.ctx, token.HashOf(s.RefreshToken))
			require.NoError(t, err)
			require.NotNil(t, old.ReplacedBy)
			assert.Equal(t, token.HashOf(successor), *old.ReplacedBy)
			assert.Len(t, rows, attempts+1, "one key per answer, plus the exchange's")
			assert.Equal(t, 1, f.activeKeys(fam), "one active key per family")
			accepted := 0
			for _, k := range keys {
				if f.accepted(k, s.TenantID) == nil {
					accepted++
				}
			}
			assert.Equal(t, 1, accepted, "AlgaPSA accepts only the family's last key")
			r, err := f.refresh(successor)
			require.NoError(t, err)
			require.NoError(t, f.accepted(r.AccessToken, s.TenantID))
			assert.Equal(t, 1, f.activeKeys(fam))
		})
		t.Run("adoptions of one AlgaPSA token", func(t *testing.T) {
			raceAdoption(t, f, svcs, []*eventLog{f.events, events2})
		})
	})
}
