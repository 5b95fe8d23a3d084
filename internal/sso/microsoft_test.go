package sso

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signGood signs with the fake provider's published key.
func signGood(t *testing.T, c jwt.MapClaims) string {
	key, _ := testKeys(t)
	return signRS256(t, key, "good", c)
}

// trustTenants lists tenant ids in ALGA_MOBILE_MICROSOFT_TENANTS.
func trustTenants(ids ...string) func(*Settings) {
	return func(s *Settings) { s.MicrosoftTenants = ids }
}

// Tenant "common": discovery announces ".../{tenantid}/v2.0"; each token's
// iss must be that template filled with the token's own tid. Both test
// tenants are listed as trusted here, so only the issuer rules are at
// stake (the untrusted-tenant rule has its own test below).
func TestMicrosoftMultiTenantIssuerIsCheckedAgainstTid(t *testing.T) {
	setup := func(t *testing.T) fakeSetup {
		return newFakeSetup(t, Microsoft, "common", "/common/v2.0", "/{tenantid}/v2.0", trustTenants(testTID, strings.ToUpper(otherTID)))
	}
	base := func(s fakeSetup) jwt.MapClaims {
		return microsoftClaims(s.idp.tenantIssuer(testTID), testTID, s.flow)
	}
	sign := func(f func(s fakeSetup) jwt.MapClaims) func(*testing.T, fakeSetup) string {
		return func(t *testing.T, s fakeSetup) string { return signGood(t, f(s)) }
	}
	cases := []tokenCase{
		{"accepts iss matching its tid, taking the email claim", sign(base), nil, "bob@contoso.com"},
		{"accepts another tenant's consistent token", sign(func(s fakeSetup) jwt.MapClaims {
			return microsoftClaims(s.idp.tenantIssuer(otherTID), otherTID, s.flow)
		}), nil, "bob@contoso.com"},
		{"falls back to preferred_username when email is absent", sign(func(s fakeSetup) jwt.MapClaims {
			return with(withoutClaim(base(s), "email"), "preferred_username", "Carol@Fabrikam.com")
		}), nil, "carol@fabrikam.com"},
		{"accepts xms_edov true", sign(func(s fakeSetup) jwt.MapClaims { return with(base(s), "xms_edov", true) }), nil, "bob@contoso.com"},
		{"accepts xms_edov 1", sign(func(s fakeSetup) jwt.MapClaims { return with(base(s), "xms_edov", 1) }), nil, "bob@contoso.com"},
		{"refuses iss of another tenant than tid", sign(func(s fakeSetup) jwt.MapClaims {
			return with(base(s), "iss", s.idp.tenantIssuer(otherTID))
		}), ErrIssuerMismatch, ""},
		{"refuses a tid that is not a GUID", sign(func(s fakeSetup) jwt.MapClaims {
			return with(base(s), "tid", "evil/x", "iss", s.idp.tenantIssuer("evil/x"))
		}), ErrIssuerMismatch, ""},
		{"refuses an upper-case tid spliced into iss", sign(func(s fakeSetup) jwt.MapClaims {
			return with(base(s), "tid", "9F3C1E2A-5B6D-4C7E-8F90-1A2B3C4D5E6F", "iss", s.idp.tenantIssuer("9F3C1E2A-5B6D-4C7E-8F90-1A2B3C4D5E6F"))
		}), ErrIssuerMismatch, ""},
		{"refuses a missing tid", sign(func(s fakeSetup) jwt.MapClaims { return withoutClaim(base(s), "tid") }), ErrIssuerMismatch, ""},
		{"refuses the unfilled template as iss", sign(func(s fakeSetup) jwt.MapClaims {
			return with(base(s), "iss", s.idp.srv.URL+"/{tenantid}/v2.0")
		}), ErrIssuerMismatch, ""},
		{"refuses a consistent tid on another host", sign(func(s fakeSetup) jwt.MapClaims {
			return with(base(s), "iss", "https://login.evil.example/"+testTID+"/v2.0")
		}), ErrIssuerMismatch, ""},
		{"refuses wrong aud", sign(func(s fakeSetup) jwt.MapClaims { return with(base(s), "aud", "other-app") }), ErrAudienceMismatch, ""},
		{"refuses an expired token", sign(func(s fakeSetup) jwt.MapClaims {
			return with(base(s), "exp", attackNow.Add(-time.Minute).Unix())
		}), ErrTokenExpired, ""},
		{"refuses a bad signature", func(t *testing.T, s fakeSetup) string {
			_, wrong := testKeys(t)
			return signRS256(t, wrong, "good", base(s))
		}, ErrBadSignature, ""},
		{"refuses a nonce mismatch", sign(func(s fakeSetup) jwt.MapClaims { return with(base(s), "nonce", "x") }), ErrNonceMismatch, ""},
		{"refuses xms_edov false", sign(func(s fakeSetup) jwt.MapClaims { return with(base(s), "xms_edov", false) }), ErrEmailNotVerified, ""},
		{"refuses an explicit email_verified false", sign(func(s fakeSetup) jwt.MapClaims {
			return with(base(s), "email_verified", false)
		}), ErrEmailNotVerified, ""},
		{"refuses a preferred_username that is not an e-mail", sign(func(s fakeSetup) jwt.MapClaims {
			return with(withoutClaim(base(s), "email"), "preferred_username", "bob")
		}), ErrNoEmail, ""},
		{"refuses a token with neither", sign(func(s fakeSetup) jwt.MapClaims {
			return withoutClaim(base(s), "email", "preferred_username")
		}), ErrNoEmail, ""},
	}
	runTokenCases(t, setup, cases)
}

// nOAuth: with a multi-tenant authority, the administrator of any Entra
// directory can set a user's mail to an address of a domain it does not
// own. Such a token's e-mail counts only when its tenant is listed in
// ALGA_MOBILE_MICROSOFT_TENANTS or it carries xms_edov true.
func TestMicrosoftMultiTenantRefusesUntrustedTenantEmail(t *testing.T) {
	for _, authority := range []string{"common", "organizations"} {
		t.Run(authority, func(t *testing.T) {
			setup := func(t *testing.T) fakeSetup {
				return newFakeSetup(t, Microsoft, authority, "/"+authority+"/v2.0", "/{tenantid}/v2.0", trustTenants(testTID))
			}
			foreign := func(kv ...any) func(*testing.T, fakeSetup) string {
				return func(t *testing.T, s fakeSetup) string {
					c := microsoftClaims(s.idp.tenantIssuer(otherTID), otherTID, s.flow)
					c = with(c, "email", "ceo@victim.example")
					return signGood(t, with(c, kv...))
				}
			}
			runTokenCases(t, setup, []tokenCase{
				{"refuses a foreign tenant's e-mail without xms_edov", foreign(), ErrUntrustedTenant, ""},
				{"refuses a foreign tenant's e-mail with xms_edov false", foreign("xms_edov", false), ErrUntrustedTenant, ""},
				{"refuses a foreign tenant's preferred_username", func(t *testing.T, s fakeSetup) string {
					c := microsoftClaims(s.idp.tenantIssuer(otherTID), otherTID, s.flow)
					return signGood(t, with(withoutClaim(c, "email"), "preferred_username", "ceo@victim.example", "xms_edov", true))
				}, ErrUntrustedTenant, ""},
				{"accepts a foreign tenant's e-mail with xms_edov true", foreign("xms_edov", true), nil, "ceo@victim.example"},
				{"accepts a listed tenant without xms_edov", func(t *testing.T, s fakeSetup) string {
					return signGood(t, microsoftClaims(s.idp.tenantIssuer(testTID), testTID, s.flow))
				}, nil, "bob@contoso.com"},
			})
		})
	}
	t.Run("no tenant listed", func(t *testing.T) {
		setup := func(t *testing.T) fakeSetup {
			return newFakeSetup(t, Microsoft, "common", "/common/v2.0", "/{tenantid}/v2.0")
		}
		runTokenCases(t, setup, []tokenCase{
			{"refuses every tenant without xms_edov", func(t *testing.T, s fakeSetup) string {
				return signGood(t, microsoftClaims(s.idp.tenantIssuer(testTID), testTID, s.flow))
			}, ErrUntrustedTenant, ""},
		})
	})
}

// Tenant "consumers" publishes a fixed issuer (the personal-account tenant)
// that differs from the URL discovery was fetched from.
func TestMicrosoftConsumersUsesTheDiscoveredFixedIssuer(t *testing.T) {
	const msa = "9188040d-6c67-4c5b-b112-36a304b66dad"
	setup := func(t *testing.T) fakeSetup {
		return newFakeSetup(t, Microsoft, "consumers", "/consumers/v2.0", "/"+msa+"/v2.0")
	}
	runTokenCases(t, setup, []tokenCase{
		{"accepts the fixed issuer", func(t *testing.T, s fakeSetup) string {
			return signGood(t, microsoftClaims(s.idp.tenantIssuer(msa), msa, s.flow))
		}, nil, "bob@contoso.com"},
		{"refuses any other issuer", func(t *testing.T, s fakeSetup) string {
			return signGood(t, microsoftClaims(s.idp.tenantIssuer(testTID), testTID, s.flow))
		}, ErrIssuerMismatch, ""},
	})
}

// A specific tenant id: discovery and every token must name exactly it.
func TestMicrosoftSingleTenantUsesTheNormalIssuerCheck(t *testing.T) {
	setup := func(t *testing.T) fakeSetup {
		return newFakeSetup(t, Microsoft, testTID, "/"+testTID+"/v2.0", "/"+testTID+"/v2.0")
	}
	runTokenCases(t, setup, []tokenCase{
		{"accepts its own tenant", func(t *testing.T, s fakeSetup) string {
			return signGood(t, microsoftClaims(s.idp.tenantIssuer(testTID), testTID, s.flow))
		}, nil, "bob@contoso.com"},
		{"refuses another tenant's consistent token", func(t *testing.T, s fakeSetup) string {
			return signGood(t, microsoftClaims(s.idp.tenantIssuer(otherTID), otherTID, s.flow))
		}, ErrIssuerMismatch, ""},
		{"ignores tid: iss alone is compared, exactly", func(t *testing.T, s fakeSetup) string {
			return signGood(t, microsoftClaims(s.idp.tenantIssuer(testTID), otherTID, s.flow))
		}, nil, "bob@contoso.com"},
	})
}

func TestMicrosoftDiscoveryRefusals(t *testing.T) {
	t.Run("multi-tenant discovery naming another origin", func(t *testing.T) {
		s := newFakeSetup(t, Microsoft, "common", "/common/v2.0", "")
		s.idp.mu.Lock()
		s.idp.discIssuer = "https://login.evil.example/{tenantid}/v2.0"
		s.idp.mu.Unlock()
		err := s.p.Discover(context.Background())
		assert.ErrorIs(t, err, ErrDiscovery)
	})
	t.Run("single tenant whose discovery announces the template", func(t *testing.T) {
		s := newFakeSetup(t, Microsoft, testTID, "/"+testTID+"/v2.0", "/{tenantid}/v2.0")
		err := s.p.Discover(context.Background())
		assert.ErrorIs(t, err, ErrDiscovery)
	})
	t.Run("google discovery announcing another issuer", func(t *testing.T) {
		s := newFakeSetup(t, Google, "", "", "/other")
		_, err := s.p.AuthCodeURL(context.Background(), s.flow)
		assert.ErrorIs(t, err, ErrDiscovery)
	})
}

func TestCheckIssuerDirectly(t *testing.T) {
	d := &discovered{issuerTemplate: "https://login.microsoftonline.com/{tenantid}/v2.0"}
	require.NoError(t, d.checkIssuer("https://login.microsoftonline.com/"+testTID+"/v2.0", testTID))
	assert.ErrorIs(t, d.checkIssuer("https://login.microsoftonline.com/"+testTID+"/v2.0", otherTID), ErrIssuerMismatch)
	assert.ErrorIs(t, d.checkIssuer("https://login.microsoftonline.com/x/v2.0", "x"), ErrIssuerMismatch)
	fixed := &discovered{fixedIssuer: "https://login.microsoftonline.com/" + testTID + "/v2.0"}
	require.NoError(t, fixed.checkIssuer(fixed.fixedIssuer, ""))
	assert.ErrorIs(t, fixed.checkIssuer(fixed.fixedIssuer+"/", ""), ErrIssuerMismatch)
}
