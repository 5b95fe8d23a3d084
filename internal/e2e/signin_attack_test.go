package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// ID-token and callback attacks at the application level: the fake
// provider (configured as Google) answers with a crafted ID token, and
// every refusal must send the browser back to the sign-in page — or show
// a refusal page — with no web session created.

// siGoogleSignIn walks start → provider → callback with the fake provider,
// letting tamper alter the callback URL, and returns the callback's answer.
func siGoogleSignIn(t *testing.T, c *http.Client, in *instance, callback string, tamper func(*url.URL)) *http.Response {
	t.Helper()
	return siSignInVia(t, c, in, "google", callback, tamper)
}

// siSignInVia is siGoogleSignIn for any provider id (its callback path segment).
func siSignInVia(t *testing.T, c *http.Client, in *instance, provider, callback string, tamper func(*url.URL)) *http.Response {
	t.Helper()
	u := in.URL + "/auth/signin/" + provider
	if callback != "" {
		u += "?" + url.Values{"callbackUrl": {callback}}.Encode()
	}
	r := get(t, c, u)
	require.Equal(t, http.StatusFound, r.StatusCode, "start sign-in")
	r = get(t, c, r.Header.Get("Location"))
	require.Equal(t, http.StatusFound, r.StatusCode, "the provider approves at once")
	cb, err := url.Parse(r.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "/api/auth/callback/"+provider, cb.Path)
	if tamper != nil {
		tamper(cb)
	}
	return get(t, c, cb.String())
}

// siAssertNoSession checks that nothing signed the browser in: no session
// row, no session cookie, and the handoff still asks for a sign-in.
func siAssertNoSession(t *testing.T, in *instance, c *http.Client, r *http.Response) {
	t.Helper()
	assert.Equal(t, 0, siSessions(t, in), "no web session in the store")
	if ck := siSetCookie(r, "alga_mobile_session"); ck != nil {
		assert.Empty(t, ck.Value, "no session cookie")
	}
	h := get(t, c, in.URL+siHandoffPath("after-refusal"))
	assert.True(t, strings.HasPrefix(h.Header.Get("Location"), "/auth/signin?callbackUrl="), "the handoff still wants a sign-in")
}

// siMint returns a mint function that edits the valid claims and signs
// them with the provider's key.
func siMint(idp *siIdP, edit func(c jwt.MapClaims)) func(a siAuthz) (string, error) {
	good, _ := siKeys()
	return func(a siAuthz) (string, error) {
		c := idp.claims(a, siValidEmail)
		edit(c)
		return siSign(good, "good", c)
	}
}

func TestSignInRefusesForgedIDTokens(t *testing.T) {
	idp := siStartIdP(t)
	env := idp.env(baseEnv(t, freeAddr(t)))
	env["ALGA_MOBILE_DEV_IDP"] = "false"
	in := start(t, env)
	in.addUser(t, tenantA, siValidEmail, mobileauth.UserInternal)
	good, bad := siKeys()
	handoff := siHandoffPath("st")

	tests := []struct {
		name string
		mint func(a siAuthz) (string, error)
		code string // the error on /auth/signin
	}{
		{"wrong aud", siMint(idp, func(c jwt.MapClaims) { c["aud"] = "someone-elses-client" }), "sign_in_failed"},
		{"aud list without us", siMint(idp, func(c jwt.MapClaims) { c["aud"] = []string{"a", "b"} }), "sign_in_failed"},
		{"wrong iss", siMint(idp, func(c jwt.MapClaims) { c["iss"] = "https://accounts.google.com" }), "sign_in_failed"},
		{"iss of another loopback provider", siMint(idp, func(c jwt.MapClaims) { c["iss"] = "http://127.0.0.1:1" }), "sign_in_failed"},
		{"expired", siMint(idp, func(c jwt.MapClaims) {
			c["iat"], c["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
		}), "sign_in_failed"},
		{"bad signature (other key, provider's kid)", func(a siAuthz) (string, error) {
			return siSign(bad, "good", idp.claims(a, siValidEmail))
		}, "sign_in_failed"},
		{"unknown signing key", func(a siAuthz) (string, error) {
			return siSign(bad, "rogue", idp.claims(a, siValidEmail))
		}, "sign_in_failed"},
		{"tampered payload", func(a siAuthz) (string, error) {
			tok, err := siSign(good, "good", idp.claims(a, "someone@example.com"))
			if err != nil {
				return "", err
			}
			other, err := siSign(good, "good", idp.claims(a, siValidEmail))
			parts, otherParts := strings.Split(tok, "."), strings.Split(other, ".")
			return parts[0] + "." + otherParts[1] + "." + parts[2], err
		}, "sign_in_failed"},
		{"alg none", func(a siAuthz) (string, error) { return siSignNone(idp.claims(a, siValidEmail)) }, "sign_in_failed"},
		{"HS256 keyed with the client secret", func(a siAuthz) (string, error) {
			return siSignHS256(idp.ClientSecret, idp.claims(a, siValidEmail))
		}, "sign_in_failed"},
		{"nonce mismatch", siMint(idp, func(c jwt.MapClaims) { c["nonce"] = "not-the-flow-nonce" }), "sign_in_failed"},
		{"nonce missing", siMint(idp, func(c jwt.MapClaims) { delete(c, "nonce") }), "sign_in_failed"},
		{"e-mail not verified", siMint(idp, func(c jwt.MapClaims) { c["email_verified"] = false }), "email_not_verified"},
		{"e-mail verified as the string false", siMint(idp, func(c jwt.MapClaims) { c["email_verified"] = "false" }), "email_not_verified"},
		{"email_verified missing", siMint(idp, func(c jwt.MapClaims) { delete(c, "email_verified") }), "email_not_verified"},
		{"no e-mail", siMint(idp, func(c jwt.MapClaims) { delete(c, "email") }), "email_not_verified"},
		{"no ID token at all", func(siAuthz) (string, error) { return "", nil }, "sign_in_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp.setMint(tt.mint)
			c := browser(t)
			r := siGoogleSignIn(t, c, in, in.URL+handoff, nil)
			require.Equal(t, http.StatusFound, r.StatusCode)
			assert.Equal(t, "/auth/signin?"+url.Values{"error": {tt.code}, "callbackUrl": {handoff}}.Encode(),
				r.Header.Get("Location"), "back to sign-in, keeping the app's callback for a retry")
			_, why := idp.calls()
			assert.Empty(t, why, "the provider accepted our token request, so the ID token is what failed")
			siAssertNoSession(t, in, c, r)
		})
	}
}

func TestSignInRefusesForgedCallbacks(t *testing.T) {
	idp := siStartIdP(t)
	env := idp.env(baseEnv(t, freeAddr(t)))
	env["ALGA_MOBILE_DEV_IDP"] = "false"
	in := start(t, env)
	in.addUser(t, tenantA, siValidEmail, mobileauth.UserInternal)
	handoff := siHandoffPath("st")
	back := func(code string) string {
		return "/auth/signin?" + url.Values{"error": {code}, "callbackUrl": {handoff}}.Encode()
	}

	t.Run("state mismatch", func(t *testing.T) {
		calls, _ := idp.calls()
		c := browser(t)
		r := siGoogleSignIn(t, c, in, in.URL+handoff, func(u *url.URL) {
			q := u.Query()
			q.Set("state", q.Get("state")+"x")
			u.RawQuery = q.Encode()
		})
		assert.Equal(t, back("flow_expired"), r.Header.Get("Location"))
		after, _ := idp.calls()
		assert.Equal(t, calls, after, "the code is never redeemed")
		siAssertNoSession(t, in, c, r)
	})
	t.Run("state missing", func(t *testing.T) {
		c := browser(t)
		r := siGoogleSignIn(t, c, in, in.URL+handoff, func(u *url.URL) {
			q := u.Query()
			q.Del("state")
			u.RawQuery = q.Encode()
		})
		assert.Equal(t, back("flow_expired"), r.Header.Get("Location"))
		siAssertNoSession(t, in, c, r)
	})
	t.Run("callback in a browser that did not start the flow", func(t *testing.T) {
		var cb string
		siGoogleSignIn(t, browser(t), in, in.URL+handoff, func(u *url.URL) { cb = u.String(); u.Path = "/healthz" })
		c := browser(t)
		r := get(t, c, cb)
		assert.Equal(t, "/auth/signin?error=flow_expired", r.Header.Get("Location"))
		siAssertNoSession(t, in, c, r)
	})
	t.Run("provider reports an error", func(t *testing.T) {
		c := browser(t)
		r := siGoogleSignIn(t, c, in, in.URL+handoff, func(u *url.URL) {
			u.RawQuery = url.Values{"error": {"access_denied"}, "state": {u.Query().Get("state")}}.Encode()
		})
		assert.Equal(t, back("access_denied"), r.Header.Get("Location"))
		siAssertNoSession(t, in, c, r)
	})
	t.Run("code the provider does not know", func(t *testing.T) {
		c := browser(t)
		r := siGoogleSignIn(t, c, in, in.URL+handoff, func(u *url.URL) {
			q := u.Query()
			q.Set("code", "forged-code")
			u.RawQuery = q.Encode()
		})
		assert.Equal(t, back("sign_in_failed"), r.Header.Get("Location"))
		siAssertNoSession(t, in, c, r)
	})
	t.Run("replayed callback after a success", func(t *testing.T) {
		var cb string
		c := browser(t)
		r := siGoogleSignIn(t, c, in, in.URL+handoff, func(u *url.URL) { cb = u.String() })
		require.Equal(t, handoff, r.Header.Get("Location"), "the first use signs in")
		require.Equal(t, 1, siSessions(t, in))
		r = get(t, c, cb)
		assert.Equal(t, "/auth/signin?error=flow_expired", r.Header.Get("Location"), "the flow cookie was spent")
		assert.Equal(t, 1, siSessions(t, in), "no second session")
		_, err := in.App.Store.DB().ExecContext(t.Context(), "DELETE FROM web_sessions")
		require.NoError(t, err)
	})
}

func TestSignInRefusesUsersOutsideTheDirectory(t *testing.T) {
	idp := siStartIdP(t)
	env := idp.env(baseEnv(t, freeAddr(t)))
	env["ALGA_MOBILE_DEV_IDP"] = "false"
	in := start(t, env)
	ctx := context.Background()
	in.addUser(t, tenantA, "gone@example.com", mobileauth.UserInternal)
	require.NoError(t, in.App.Store.SetUserActive(ctx, tenantA, "gone@example.com", false, time.Now()))
	in.addUser(t, tenantA, "twice@example.com", mobileauth.UserInternal)
	in.addUser(t, siTenantB, "twice@example.com", mobileauth.UserInternal)

	tests := []struct{ name, email, sentence string }{
		{"unknown e-mail", "stranger@example.com", "There is no active AlgaPSA account for stranger@example.com."},
		{"inactive user", "gone@example.com", "There is no active AlgaPSA account for gone@example.com."},
		{"e-mail in two tenants", "twice@example.com",
			"twice@example.com belongs to more than one organisation on this server, so it cannot be used to sign in."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good, _ := siKeys()
			idp.setMint(func(a siAuthz) (string, error) { return siSign(good, "good", idp.claims(a, tt.email)) })
			c := browser(t)
			cb := siGoogleSignIn(t, c, in, in.URL+siHandoffPath("st"), nil)
			// The refusal has a page of its own: reloading it must not
			// re-send the provider's used code.
			require.Equal(t, http.StatusSeeOther, cb.StatusCode)
			require.True(t, strings.HasPrefix(cb.Header.Get("Location"), "/auth/signin?error="), cb.Header.Get("Location"))
			siAssertNoSession(t, in, c, cb)
			for range 2 {
				r := get(t, c, in.URL+cb.Header.Get("Location"))
				require.Equal(t, http.StatusForbidden, r.StatusCode)
				body := readAll(t, r)
				assert.Contains(t, body, `<p class="alert" role="alert">`+tt.sentence+`</p>`)
				siAssertPageHeaders(t, r, body)
				siAssertNoSession(t, in, c, r)
			}
			var n int
			_, err := in.App.AuditLog().ListAudit(context.Background(), mobileauth.AuditFilter{Limit: 1}) // writes what is queued
			require.NoError(t, err)
			require.NoError(t, in.App.Store.DB().QueryRowContext(t.Context(), "SELECT COUNT(*) FROM audit_events WHERE operation = ? AND details LIKE ?",
				mobileauth.AuditSignInRefused, "%"+tt.email+"%").Scan(&n))
			assert.Equal(t, 1, n, "the refusal is audited")
		})
	}
}

// TestSignInWithTheFakeProviderWorks is the control for the attacks above:
// the same provider, with an honest token, signs in — including an address
// whose case differs from the directory's, and one whose duplicate in
// another tenant is inactive.
func TestSignInWithTheFakeProviderWorks(t *testing.T) {
	idp := siStartIdP(t)
	env := idp.env(baseEnv(t, freeAddr(t)))
	env["ALGA_MOBILE_DEV_IDP"] = "false"
	in := start(t, env)
	in.addUser(t, tenantA, siValidEmail, mobileauth.UserInternal)
	in.addUser(t, tenantA, "moved@example.com", mobileauth.UserInternal)
	in.addUser(t, siTenantB, "moved@example.com", mobileauth.UserInternal)
	require.NoError(t, in.App.Store.SetUserActive(context.Background(), tenantA, "moved@example.com", false, time.Now()))

	for i, email := range []string{siValidEmail, "Tech@Example.COM", "moved@example.com"} {
		good, _ := siKeys()
		idp.setMint(func(a siAuthz) (string, error) { return siSign(good, "good", idp.claims(a, email)) })
		c := browser(t)
		r := siGoogleSignIn(t, c, in, in.URL+siHandoffPath("st"), nil)
		require.Equal(t, http.StatusFound, r.StatusCode, email)
		assert.Equal(t, siHandoffPath("st"), r.Header.Get("Location"), email)
		assert.Equal(t, i+1, siSessions(t, in))
		siOTT(t, c, in, "ok")
	}
}

// nOAuth (issue 11 item 1): with MICROSOFT_OAUTH_TENANT_ID=common, a token
// from a tenant not in ALGA_MOBILE_MICROSOFT_TENANTS whose e-mail
// Microsoft does not mark domain-verified (xms_edov) is refused with a
// page that says why; a listed tenant, or xms_edov true, signs in.
func TestSignInRefusesMicrosoftForeignTenantEmail(t *testing.T) {
	const ownTID, foreignTID = "9f3c1e2a-5b6d-4c7e-8f90-1a2b3c4d5e6f", "0a0b0c0d-1111-4222-8333-444455556666"
	idp := siStartIdP(t)
	env := idp.msEnv(baseEnv(t, freeAddr(t)))
	env["ALGA_MOBILE_DEV_IDP"] = "false"
	env["ALGA_MOBILE_MICROSOFT_TENANTS"] = ownTID
	in := start(t, env)
	in.addUser(t, tenantA, siValidEmail, mobileauth.UserInternal)
	good, _ := siKeys()
	mint := func(tid string, extra ...any) func(a siAuthz) (string, error) {
		return func(a siAuthz) (string, error) {
			c := idp.msClaims(a, tid, siValidEmail)
			for i := 0; i+1 < len(extra); i += 2 {
				c[extra[i].(string)] = extra[i+1]
			}
			return siSign(good, "good", c)
		}
	}
	handoff := siHandoffPath("st")

	t.Run("foreign tenant without xms_edov is refused with a page", func(t *testing.T) {
		idp.setMint(mint(foreignTID))
		c := browser(t)
		cb := siSignInVia(t, c, in, "azure-ad", in.URL+handoff, nil)
		require.Equal(t, http.StatusSeeOther, cb.StatusCode, "the refusal has a page of its own")
		r := get(t, c, in.URL+cb.Header.Get("Location"))
		require.Equal(t, http.StatusForbidden, r.StatusCode)
		body := readAll(t, r)
		assert.Contains(t, body, "does not accept Microsoft sign-ins from your organisation")
		assert.Contains(t, body, "ALGA_MOBILE_MICROSOFT_TENANTS")
		siAssertPageHeaders(t, r, body)
		siAssertNoSession(t, in, c, r)
	})
	for _, tt := range []struct {
		name string
		mint func(a siAuthz) (string, error)
	}{
		{"foreign tenant with xms_edov true signs in", mint(foreignTID, "xms_edov", true)},
		{"listed tenant signs in", mint(ownTID)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			idp.setMint(tt.mint)
			r := siSignInVia(t, browser(t), in, "azure-ad", in.URL+handoff, nil)
			require.Equal(t, http.StatusFound, r.StatusCode)
			assert.Equal(t, handoff, r.Header.Get("Location"))
			_, err := in.App.Store.DB().ExecContext(t.Context(), "DELETE FROM web_sessions")
			require.NoError(t, err)
		})
	}
}
