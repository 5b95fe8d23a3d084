package authflow_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

func TestRevoke(t *testing.T) {
	cases := []struct {
		name string
		// pick returns the token to revoke from a session whose first
		// refresh token has been rotated once (r0 → r1).
		pick    func(r0, r1 string) string
		revokes bool
		invalid bool // a validation error (the missing field), revoking nothing
	}{
		{name: "empty token is a validation error and revokes nothing", pick: func(string, string) string { return "" }, invalid: true},
		{name: "oversized token is a no-op", pick: func(string, string) string { return strings.Repeat("x", 513) }},
		{name: "unknown token is a no-op", pick: func(string, string) string { return "never-issued" }},
		{name: "current token revokes the family", pick: func(_, r1 string) string { return r1 }, revokes: true},
		{name: "rotated token revokes the family", pick: func(r0, _ string) string { return r0 }, revokes: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.addUsers(alice)
			s := f.session(alice.Email)
			fam := f.familyOf(s.AccessToken)
			r1 := f.refresh(s.RefreshToken)

			err := f.svc.Revoke(f.ctx, authflow.RevokeRequest{RefreshToken: tc.pick(s.RefreshToken, r1.RefreshToken), ClientIP: "192.0.2.44"})
			if tc.invalid {
				assertError(t, err, mobileauth.CodeValidation, "refreshToken is required and must be a non-empty string")
			} else {
				require.NoError(t, err)
			}

			ev := f.audits(mobileauth.AuditRevoke)
			if !tc.revokes {
				assert.Empty(t, ev)
				_, err := f.svc.Verify(f.ctx, r1.AccessToken)
				assert.NoError(t, err)
				f.refresh(r1.RefreshToken)
				return
			}
			f.assertFamilyRevoked(fam, s.AccessToken, r1.AccessToken)
			assertError(t, f.refreshErr(r1.RefreshToken), mobileauth.CodeUnauthorized, msgInvalidToken)
			require.Len(t, ev, 1)
			assert.Equal(t, fam, ev[0].RecordID)
			assert.Equal(t, alice.ID, ev[0].UserID)
			assert.Equal(t, alice.TenantID, ev[0].TenantID)
			assert.Equal(t, "192.0.2.44", ev[0].ClientIP)

			// Revoking again still answers nil.
			require.NoError(t, f.svc.Revoke(f.ctx, authflow.RevokeRequest{RefreshToken: r1.RefreshToken}))
		})
	}
}

func TestVerifyAcceptsValidToken(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice)
	s := f.session(alice.Email)
	for _, raw := range []string{s.AccessToken, "  " + s.AccessToken + "\t"} {
		p, err := f.svc.Verify(f.ctx, raw)
		require.NoError(t, err)
		assert.Equal(t, alice.ID, p.UserID)
		assert.Equal(t, alice.TenantID, p.TenantID)
		assert.Equal(t, alice.Email, p.Email)
		assert.NotEmpty(t, p.SessionID)
	}
}

func TestVerifyRefusals(t *testing.T) {
	stranger := newFixture(t) // its own store, hence its own signing key
	stranger.addUsers(alice)
	foreign := stranger.session(alice.Email).AccessToken

	cases := []struct {
		name    string
		token   func(f *fixture, access string) string
		noToken bool
		msg     string
	}{
		{name: "no token", token: func(*fixture, string) string { return "" }, noToken: true, msg: "Authentication required"},
		{name: "blank token", token: func(*fixture, string) string { return " \t " }, noToken: true, msg: "Authentication required"},
		{name: "garbage", token: func(*fixture, string) string { return "garbage" }, msg: msgInvalidToken},
		{name: "three garbage segments", token: func(*fixture, string) string { return "a.b.c" }, msg: msgInvalidToken},
		{name: "oversized", token: func(*fixture, string) string { return strings.Repeat("a", token.MaxTokenLen+1) }, msg: msgInvalidToken},
		{name: "tampered payload", token: func(_ *fixture, a string) string {
			parts := strings.Split(a, ".")
			parts[1] = parts[1][:len(parts[1])-2] + "AA"
			return strings.Join(parts, ".")
		}, msg: msgInvalidToken},
		{name: "signed by a key this store never had", token: func(*fixture, string) string { return foreign }, msg: msgInvalidToken},
		{name: "expired", token: func(f *fixture, a string) string {
			f.clock.Advance(accessTTL + token.Leeway + time.Second)
			return a
		}, msg: msgInvalidToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.addUsers(alice)
			access := f.session(alice.Email).AccessToken
			_, err := f.svc.Verify(f.ctx, tc.token(f, access))
			assertError(t, err, mobileauth.CodeUnauthorized, tc.msg)
			assert.Equal(t, tc.noToken, errors.Is(err, authflow.ErrNoToken))
		})
	}
}

func TestVerifySeesRevocationOnAnotherInstance(t *testing.T) {
	const freshness = 50 * time.Millisecond
	cases := []struct {
		name   string
		revoke func(t *testing.T, a *fixture, s authflow.ExchangeResult)
	}{
		{name: "revoke", revoke: func(t *testing.T, a *fixture, s authflow.ExchangeResult) {
			require.NoError(t, a.svc.Revoke(a.ctx, authflow.RevokeRequest{RefreshToken: s.RefreshToken}))
		}},
		{name: "theft detection", revoke: func(t *testing.T, a *fixture, s authflow.ExchangeResult) {
			a.refresh(s.RefreshToken)
			a.clock.Advance(grace + time.Second)
			assertError(t, a.refreshErr(s.RefreshToken), mobileauth.CodeUnauthorized, msgInvalidToken)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newFixture(t)
			b := newFixture(t, sharing(a), withSettings(func(s *authflow.Settings) { s.RevocationFreshness = freshness }))
			a.addUsers(alice)
			s := a.session(alice.Email)
			_, err := b.svc.Verify(b.ctx, s.AccessToken)
			require.NoError(t, err, "the other instance accepts the token before revocation")

			tc.revoke(t, a, s)
			_, err = a.svc.Verify(a.ctx, s.AccessToken)
			assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)

			// The shared clock has moved past b's freshness period (theft
			// detection waited out the grace period) or is moved now.
			a.clock.Advance(freshness)
			_, err = b.svc.Verify(b.ctx, s.AccessToken)
			assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)
		})
	}
}

func TestVerifyFailsClosedWhenRevocationsCannotBeRead(t *testing.T) {
	a := newFixture(t)
	b := newFixture(t, sharing(a), withSettings(func(s *authflow.Settings) { s.RevocationFreshness = time.Millisecond }))
	a.addUsers(alice)
	s := a.session(alice.Email)
	_, err := b.svc.Verify(b.ctx, s.AccessToken)
	require.NoError(t, err)

	require.NoError(t, b.store.Close())
	b.clock.Advance(time.Millisecond)
	_, err = b.svc.Verify(b.ctx, s.AccessToken)
	assertError(t, err, mobileauth.CodeServiceUnavailable, "Token verification is temporarily unavailable")
}

// A token signed with this store's key (as someone holding a stolen key
// could mint) whose sid names no family, or another user's family, is
// refused: a valid signature alone is not a session.
func TestVerifyRefusesASidWithoutItsFamily(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice, bob)
	s := f.session(alice.Email)
	aliceFamily := f.familyOf(s.AccessToken)
	ring, err := token.NewKeyring(f.ctx, f.store, token.KeyringOptions{Now: f.clock.Now, AccessTTL: accessTTL})
	require.NoError(t, err)
	forger, err := token.NewIssuer(ring, origin, "", accessTTL, f.clock.Now, nil)
	require.NoError(t, err)
	mint := func(c token.AccessClaims) string {
		raw, _, err := forger.Issue(c)
		require.NoError(t, err)
		return raw
	}
	for _, tc := range []struct {
		name string
		c    token.AccessClaims
		ok   bool
	}{
		{"accepts the family's owner", token.AccessClaims{Subject: alice.ID, TenantID: alice.TenantID, FamilyID: aliceFamily}, true},
		{"refuses a sid that names no family", token.AccessClaims{Subject: alice.ID, TenantID: alice.TenantID, FamilyID: "no-such-family"}, false},
		{"refuses another user's family", token.AccessClaims{Subject: bob.ID, TenantID: bob.TenantID, FamilyID: aliceFamily}, false},
		{"refuses the family under another tenant", token.AccessClaims{Subject: alice.ID, TenantID: "tenant-b", FamilyID: aliceFamily}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Verify(f.ctx, mint(tc.c))
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)
		})
	}
}
