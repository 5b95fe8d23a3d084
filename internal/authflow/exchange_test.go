package authflow_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/license"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// Contract messages fixed by SPEC §3.4 (and the shared 401 sentence).
const (
	msgInvalidToken = "Invalid or expired token"
	msgEdition      = "Mobile app access is not available on this edition"
	msgPlan         = "Mobile app access is not available on your plan"
	msgClientUser   = "Client portal users cannot use the mobile app"
)

// assertError checks err's contract code and, when msg is not empty, its
// client message exactly.
func assertError(t testing.TB, err error, code mobileauth.Code, msg string) {
	t.Helper()
	require.Error(t, err)
	assert.Equal(t, code, mobileauth.ErrorCode(err), "error: %v", err)
	if msg != "" {
		var e *mobileauth.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, msg, e.Message)
	}
}

func TestExchangeReturnsTokensAndStoresFamily(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice)
	ott, sessionID := f.issueOTT(alice.Email, "state-1", "")

	req := exchangeReq(ott, "state-1", "203.0.113.7")
	res, err := f.svc.Exchange(f.ctx, req)
	require.NoError(t, err)

	assert.NotEmpty(t, res.AccessToken)
	assert.Len(t, res.RefreshToken, token.OpaqueLen)
	assert.Equal(t, int(accessTTL.Seconds()), res.ExpiresInSec)
	assert.Equal(t, alice.TenantID, res.TenantID)
	assert.Equal(t, authflow.UserInfo{ID: alice.ID, Email: alice.Email, Name: "Alice Liddell"}, res.User)

	p, err := f.svc.Verify(f.ctx, res.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, authflow.Principal{UserID: alice.ID, TenantID: alice.TenantID, Email: alice.Email, SessionID: p.SessionID}, p)

	fam, err := f.store.GetFamily(f.ctx, p.SessionID)
	require.NoError(t, err)
	assert.Equal(t, alice.TenantID, fam.TenantID)
	assert.Equal(t, alice.ID, fam.UserID)
	assert.Equal(t, token.HashOf(sessionID), fam.SessionHash)
	assert.Equal(t, req.Device, fam.Device)
	assert.Nil(t, fam.RevokedAt)

	rt, err := f.store.GetRefreshToken(f.ctx, token.HashOf(res.RefreshToken))
	require.NoError(t, err)
	assert.Equal(t, p.SessionID, rt.FamilyID)
	assert.Equal(t, t0.Add(refreshTTL), rt.ExpiresAt.UTC())
	assert.Nil(t, rt.RotatedAt)

	ev := f.audits(mobileauth.AuditExchange)
	require.Len(t, ev, 1)
	assert.Equal(t, alice.TenantID, ev[0].TenantID)
	assert.Equal(t, alice.ID, ev[0].UserID)
	assert.Equal(t, p.SessionID, ev[0].RecordID)
	assert.Equal(t, "203.0.113.7", ev[0].ClientIP)
	assert.Equal(t, map[string]string{"platform": "ios", "appVersion": "1.4.0", "buildVersion": "140", "deviceId": "dev-1"}, ev[0].Details)
	assert.Equal(t, 1, f.events.count("ott_exchanged"))
}

func TestExchangeClipsLongDeviceDetailsInAudit(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice)
	ott, _ := f.issueOTT(alice.Email, "s", "")
	req := exchangeReq(ott, "s", "203.0.113.7")
	req.Device = mobileauth.Device{Platform: string(make([]byte, 300))}
	_, err := f.svc.Exchange(f.ctx, req)
	require.NoError(t, err)
	ev := f.audits(mobileauth.AuditExchange)
	require.Len(t, ev, 1)
	assert.Len(t, ev[0].Details["platform"], 128)
	assert.NotContains(t, ev[0].Details, "appVersion", "empty device fields are left out")
}

// ottConsumed reports whether the stored OTT has been consumed.
func (f *fixture) ottConsumed(ott string) bool {
	f.t.Helper()
	return f.count("SELECT COUNT(*) FROM one_time_tokens WHERE hash = ? AND consumed_at IS NOT NULL", hashBytes(ott)) == 1
}

func TestExchangeRefusals(t *testing.T) {
	_, challenge := pkcePair(t)
	otherVerifier, _ := pkcePair(t)
	cases := []struct {
		name string
		opts []option
		// prepare returns the request; ott is a fresh OTT of alice with
		// state "s" and the challenge when the case asks for one.
		challenge string
		prepare   func(t *testing.T, f *fixture, ott, sessionID string) authflow.ExchangeRequest
		code      mobileauth.Code
		msg       string
		consumed  bool // whether the OTT is consumed afterwards
		// lateIssue hands off when the session has 30 s left and lets it
		// end while the OTT is still valid.
		lateIssue       bool
		succeededBefore bool // the case itself ran one successful exchange
	}{
		{
			name: "missing ott is a validation error",
			prepare: func(_ *testing.T, _ *fixture, _, _ string) authflow.ExchangeRequest {
				return exchangeReq("", "s", "1.1.1.1")
			},
			code: mobileauth.CodeValidation,
		},
		{
			name: "missing state is a validation error and leaves the OTT",
			prepare: func(_ *testing.T, _ *fixture, ott, _ string) authflow.ExchangeRequest {
				return exchangeReq(ott, "", "1.1.1.1")
			},
			code: mobileauth.CodeValidation,
		},
		{
			name: "unknown OTT",
			prepare: func(_ *testing.T, _ *fixture, _, _ string) authflow.ExchangeRequest {
				return exchangeReq("bm90LWEtcmVhbC1vdHQtYXQtYWxsLWp1c3Qtbm9pc2UtMTIz", "s", "1.1.1.1")
			},
			code: mobileauth.CodeUnauthorized, msg: msgInvalidToken,
		},
		{
			name: "expired OTT",
			prepare: func(_ *testing.T, f *fixture, ott, _ string) authflow.ExchangeRequest {
				f.clock.Advance(ottTTL)
				return exchangeReq(ott, "s", "1.1.1.1")
			},
			code: mobileauth.CodeUnauthorized, msg: msgInvalidToken,
		},
		{
			name: "already used OTT",
			prepare: func(t *testing.T, f *fixture, ott, _ string) authflow.ExchangeRequest {
				_, err := f.svc.Exchange(f.ctx, exchangeReq(ott, "s", "1.1.1.1"))
				require.NoError(t, err)
				return exchangeReq(ott, "s", "1.1.1.2")
			},
			code: mobileauth.CodeUnauthorized, msg: msgInvalidToken, consumed: true, succeededBefore: true,
		},
		{
			name: "state mismatch burns the OTT",
			prepare: func(_ *testing.T, _ *fixture, ott, _ string) authflow.ExchangeRequest {
				return exchangeReq(ott, "not-s", "1.1.1.1")
			},
			code: mobileauth.CodeUnauthorized, msg: msgInvalidToken, consumed: true,
		},
		{
			name:      "PKCE wrong verifier",
			challenge: challenge,
			prepare: func(_ *testing.T, _ *fixture, ott, _ string) authflow.ExchangeRequest {
				r := exchangeReq(ott, "s", "1.1.1.1")
				r.CodeVerifier = otherVerifier
				return r
			},
			code: mobileauth.CodeUnauthorized, msg: msgInvalidToken, consumed: true,
		},
		{
			name:      "PKCE malformed verifier",
			challenge: challenge,
			prepare: func(_ *testing.T, _ *fixture, ott, _ string) authflow.ExchangeRequest {
				r := exchangeReq(ott, "s", "1.1.1.1")
				r.CodeVerifier = "short"
				return r
			},
			code: mobileauth.CodeUnauthorized, msg: msgInvalidToken, consumed: true,
		},
		{
			name:      "PKCE missing verifier",
			challenge: challenge,
			prepare: func(_ *testing.T, _ *fixture, ott, _ string) authflow.ExchangeRequest {
				return exchangeReq(ott, "s", "1.1.1.1")
			},
			code: mobileauth.CodeValidation, consumed: true,
		},
		{
			name: "web session signed out",
			prepare: func(t *testing.T, f *fixture, ott, sessionID string) authflow.ExchangeRequest {
				require.NoError(t, f.svc.SignOut(f.ctx, sessionID))
				return exchangeReq(ott, "s", "1.1.1.1")
			},
			code: mobileauth.CodeUnauthorized, msg: msgInvalidToken, consumed: true,
		},
		{
			name:      "web session expired",
			lateIssue: true,
			prepare: func(_ *testing.T, _ *fixture, ott, _ string) authflow.ExchangeRequest {
				return exchangeReq(ott, "s", "1.1.1.1")
			},
			code: mobileauth.CodeUnauthorized, msg: msgInvalidToken, consumed: true,
		},
		{
			name: "inactive user",
			prepare: func(t *testing.T, f *fixture, ott, _ string) authflow.ExchangeRequest {
				require.NoError(t, f.store.SetUserActive(f.ctx, alice.TenantID, alice.Email, false, f.clock.Now()))
				return exchangeReq(ott, "s", "1.1.1.1")
			},
			code: mobileauth.CodeUnauthorized, msg: msgInvalidToken, consumed: true,
		},
		{
			name: "Community Edition refuses before consuming",
			opts: []option{community()},
			prepare: func(_ *testing.T, _ *fixture, ott, _ string) authflow.ExchangeRequest {
				return exchangeReq(ott, "s", "1.1.1.1")
			},
			code: mobileauth.CodeForbidden, msg: msgEdition,
		},
		{
			name: "hosted tenant on essentials",
			opts: []option{hosted()},
			prepare: func(t *testing.T, f *fixture, ott, _ string) authflow.ExchangeRequest {
				require.NoError(t, f.store.SetTenantPlan(f.ctx, alice.TenantID, mobileauth.TierEssentials))
				return exchangeReq(ott, "s", "1.1.1.1")
			},
			code: mobileauth.CodeForbidden, msg: msgPlan, consumed: true,
		},
		{
			name: "self-host with an expired trial",
			opts: []option{expiredTrial()},
			prepare: func(_ *testing.T, _ *fixture, ott, _ string) authflow.ExchangeRequest {
				return exchangeReq(ott, "s", "1.1.1.1")
			},
			code: mobileauth.CodeForbidden, msg: msgPlan, consumed: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts...)
			f.addUsers(alice)
			var ott, sessionID string
			if tc.lateIssue {
				sessionID = f.signIn(alice.Email)
				f.clock.Advance(sessionTTL - 30*time.Second)
				ott = f.handoff(sessionID, "s", tc.challenge, "9.9.9.9")
				f.clock.Advance(40 * time.Second)
			} else {
				ott, sessionID = f.issueOTT(alice.Email, "s", tc.challenge)
			}
			req := tc.prepare(t, f, ott, sessionID)
			res, err := f.svc.Exchange(f.ctx, req)
			assertError(t, err, tc.code, tc.msg)
			assert.Empty(t, res.AccessToken)
			assert.Empty(t, res.RefreshToken)
			if req.OTT == ott {
				assert.Equal(t, tc.consumed, f.ottConsumed(ott), "OTT consumed")
			}
			assert.NotContains(t, err.Error(), ott, "the error never repeats the OTT")
			audited := 0
			if tc.succeededBefore {
				audited = 1
			}
			assert.Len(t, f.audits(mobileauth.AuditExchange), audited, "no exchange audited for a refusal")
		})
	}
}

func TestExchangeStateMismatchCannotBeRetried(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice)
	ott, _ := f.issueOTT(alice.Email, "right", "")

	_, err := f.svc.Exchange(f.ctx, exchangeReq(ott, "wrong", "1.1.1.1"))
	assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)
	_, err = f.svc.Exchange(f.ctx, exchangeReq(ott, "right", "1.1.1.1"))
	assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)
	assert.Equal(t, 1, f.events.count("ott_rejected/state_mismatch"))
}

func TestExchangePKCE(t *testing.T) {
	verifier, challenge := pkcePair(t)
	cases := []struct {
		name      string
		challenge string
		verifier  string
	}{
		{name: "correct verifier is accepted", challenge: challenge, verifier: verifier},
		{name: "OTT without challenge ignores a verifier", challenge: "", verifier: verifier},
		{name: "OTT without challenge ignores a malformed verifier", challenge: "", verifier: "!"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.addUsers(alice)
			ott, _ := f.issueOTT(alice.Email, "s", tc.challenge)
			req := exchangeReq(ott, "s", "1.1.1.1")
			req.CodeVerifier = tc.verifier
			res, err := f.svc.Exchange(f.ctx, req)
			require.NoError(t, err)
			assert.NotEmpty(t, res.RefreshToken)
		})
	}
}

func TestExchangeRefusesClientUser(t *testing.T) {
	f := newFixture(t)
	f.addUsers(carol)
	// Handoff refuses client users, so the OTT is planted directly: the
	// exchange must hold the line on its own.
	sessionID := f.signIn(carol.Email)
	ott, err := token.NewOpaque(rand.Reader)
	require.NoError(t, err)
	require.NoError(t, f.store.CreateOTT(f.ctx, mobileauth.OneTimeToken{Hash: token.HashOf(ott), TenantID: carol.TenantID,
		UserID: carol.ID, SessionHash: token.HashOf(sessionID), State: "s", CreatedAt: t0, ExpiresAt: t0.Add(ottTTL)}))

	_, err = f.svc.Exchange(f.ctx, exchangeReq(ott, "s", "1.1.1.1"))
	assertError(t, err, mobileauth.CodeForbidden, msgClientUser)
	assert.Zero(t, f.count("SELECT COUNT(*) FROM token_families"))
}

func TestExchangeGateByPlan(t *testing.T) {
	cases := []struct {
		name string
		plan mobileauth.Tier // "" = unset (NULL)
		ok   bool
	}{
		{name: "unset plan counts as pro", plan: "", ok: true},
		{name: "pro", plan: mobileauth.TierPro, ok: true},
		{name: "solo", plan: mobileauth.TierSolo, ok: true},
		{name: "essentials is refused", plan: mobileauth.TierEssentials, ok: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, hosted())
			f.addUsers(alice)
			require.NoError(t, f.store.SetTenantPlan(f.ctx, alice.TenantID, tc.plan))
			ott, _ := f.issueOTT(alice.Email, "s", "")
			_, err := f.svc.Exchange(f.ctx, exchangeReq(ott, "s", "1.1.1.1"))
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			assertError(t, err, mobileauth.CodeForbidden, msgPlan)
		})
	}
}

func TestExchangeGateBySelfHostLicense(t *testing.T) {
	vendor := newLicenseSigner(t)
	in30d := t0.Add(30 * 24 * time.Hour)
	cases := []struct {
		name    string
		license string
		ok      bool
	}{
		{name: "unbound pro license", license: vendor.license(t, "pro", in30d), ok: true},
		{name: "solo license bound to the user's tenant", license: vendor.license(t, "solo", in30d, alice.TenantID), ok: true},
		{name: "license bound to another tenant", license: vendor.license(t, "pro", in30d, "tenant-b"), ok: false},
		{name: "essentials license", license: vendor.license(t, "essentials", in30d), ok: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, withGate(license.Options{Edition: license.Enterprise, License: tc.license, Keys: vendor.keys()}))
			f.addUsers(alice)
			ott, _ := f.issueOTT(alice.Email, "s", "")
			_, err := f.svc.Exchange(f.ctx, exchangeReq(ott, "s", "1.1.1.1"))
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			assertError(t, err, mobileauth.CodeForbidden, msgPlan)
		})
	}
}

func TestExchangeRateLimitPerIP(t *testing.T) {
	f := newFixture(t)
	for range 10 {
		_, err := f.svc.Exchange(f.ctx, exchangeReq("unknown-ott", "s", "192.0.2.1"))
		assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)
	}
	_, err := f.svc.Exchange(f.ctx, exchangeReq("unknown-ott", "s", "192.0.2.1"))
	var rl *authflow.RateLimitedError
	require.ErrorAs(t, err, &rl)
	assert.InDelta(t, (5 * time.Minute).Seconds(), rl.RetryAfter.Seconds(), 1)

	// Another address is not affected.
	_, err = f.svc.Exchange(f.ctx, exchangeReq("unknown-ott", "s", "192.0.2.2"))
	assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)

	// The block lasts five minutes, then the address may try again.
	f.clock.Advance(5*time.Minute - time.Second)
	_, err = f.svc.Exchange(f.ctx, exchangeReq("unknown-ott", "s", "192.0.2.1"))
	require.ErrorAs(t, err, &rl)
	f.clock.Advance(time.Second)
	_, err = f.svc.Exchange(f.ctx, exchangeReq("unknown-ott", "s", "192.0.2.1"))
	assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)
	assert.Positive(t, f.events.count("rate_limited/exchange-ip"))
}

func TestExchangeRateLimitPerUser(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice, bob)
	for range 10 {
		f.session(alice.Email) // each from a fresh address
	}
	ott, _ := f.issueOTT(alice.Email, "s", "")
	_, err := f.svc.Exchange(f.ctx, exchangeReq(ott, "s", f.nextIP()))
	var rl *authflow.RateLimitedError
	require.ErrorAs(t, err, &rl)
	assert.InDelta(t, (5 * time.Minute).Seconds(), rl.RetryAfter.Seconds(), 1)

	// Another user of the same tenant is not affected.
	f.session(bob.Email)
	assert.Positive(t, f.events.count("rate_limited/exchange-user"))
}

func TestExchangeCommunityLeavesOTTForLaterUse(t *testing.T) {
	ce := newFixture(t, community())
	ce.addUsers(alice)
	ott, _ := ce.issueOTT(alice.Email, "s", "")
	_, err := ce.svc.Exchange(ce.ctx, exchangeReq(ott, "s", "1.1.1.1"))
	assertError(t, err, mobileauth.CodeForbidden, msgEdition)

	// The same database under an Enterprise service: the OTT still works,
	// so Community did not consume it.
	ee := newFixture(t, sharing(ce))
	_, err = ee.svc.Exchange(ee.ctx, exchangeReq(ott, "s", "1.1.1.1"))
	require.NoError(t, err)
}

func TestExchangeRandomnessFailureIsAnError(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice)
	ott, _ := f.issueOTT(alice.Email, "s", "")
	g := newFixture(t, sharing(f), withRand(failingReader{}))
	_, err := g.svc.Exchange(g.ctx, exchangeReq(ott, "s", "1.1.1.1"))
	require.Error(t, err)
	assert.Equal(t, mobileauth.CodeInternal, mobileauth.ErrorCode(err))
	assert.True(t, errors.Is(err, errNoEntropy))
}

// TestRequiredFieldsNameTheField: each required field of a body is
// checked once, here, and the refusal names it (details.field), as the
// contract's golden bodies show.
func TestRequiredFieldsNameTheField(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name, field string
		call        func() error
	}{
		{"exchange without ott", "ott", func() error {
			_, err := f.svc.Exchange(f.ctx, exchangeReq("", "s", "192.0.2.1"))
			return err
		}},
		{"exchange without state", "state", func() error {
			_, err := f.svc.Exchange(f.ctx, exchangeReq("x", "", "192.0.2.1"))
			return err
		}},
		{"exchange without either names ott first", "ott", func() error {
			_, err := f.svc.Exchange(f.ctx, exchangeReq("", "", "192.0.2.1"))
			return err
		}},
		{"refresh without token", "refreshToken", func() error {
			_, err := f.svc.Refresh(f.ctx, authflow.RefreshRequest{ClientIP: "192.0.2.1"})
			return err
		}},
		{"revoke without token", "refreshToken", func() error {
			return f.svc.Revoke(f.ctx, authflow.RevokeRequest{ClientIP: "192.0.2.1"})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			assertError(t, err, mobileauth.CodeValidation, tc.field+" is required and must be a non-empty string")
			var e *mobileauth.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, map[string]string{"field": tc.field}, e.Details)
		})
	}
}

// failOnUserLimit is a limiter that fails with err at the exchange's
// per-user check: after the OTT was consumed.
type failOnUserLimit struct{ err error }

func (l failOnUserLimit) Hit(_ context.Context, key string, _ mobileauth.RateLimit, _ time.Time) (mobileauth.RateDecision, error) {
	if strings.HasPrefix(key, "exchange-user:") {
		return mobileauth.RateDecision{}, l.err
	}
	return mobileauth.RateDecision{Allowed: true}, nil
}

// TestExchangeRetryableFailureGivesTheOTTBack: an exchange that fails
// after consuming the OTT without handing anything out, in a way that
// leaves the phone a reason to retry (a 503: Redis or a database went
// away; or the phone's connection dropped), must leave the OTT to the
// retry. A refusal keeps it used up (TestExchangeStateMismatchCannotBeRetried).
func TestExchangeRetryableFailureGivesTheOTTBack(t *testing.T) {
	cases := []struct {
		name     string
		err      error
		wantCode mobileauth.Code
	}{
		{"Redis refuses connections", fmt.Errorf("dial redis: %w", syscall.ECONNREFUSED), mobileauth.CodeServiceUnavailable},
		{"the client went away", fmt.Errorf("redis: %w", context.Canceled), mobileauth.CodeInternal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.addUsers(alice)
			ott, _ := f.issueOTT(alice.Email, "s", "")
			down := newFixture(t, sharing(f), withLimiter(failOnUserLimit{tc.err}))

			_, err := down.svc.Exchange(down.ctx, exchangeReq(ott, "s", "1.1.1.1"))
			assert.Equal(t, tc.wantCode, mobileauth.ErrorCode(err))
			assert.Equal(t, 1, down.events.count("ott_released"))
			assert.Zero(t, f.count("SELECT COUNT(*) FROM token_families"))

			res, err := f.svc.Exchange(f.ctx, exchangeReq(ott, "s", "1.1.1.1"))
			require.NoError(t, err, "the retry finds the OTT")
			assert.NotEmpty(t, res.RefreshToken)
			_, err = f.svc.Exchange(f.ctx, exchangeReq(ott, "s", "1.1.1.1"))
			assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)
		})
	}
}
