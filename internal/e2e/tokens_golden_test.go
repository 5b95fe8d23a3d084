package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// TestTokenContractBodiesMatchGolden records every body shape of the
// token endpoints (SPEC §3.1, §3.4–§3.7, §3.9) in testdata/golden, with
// the volatile values (tokens, wait times) replaced by placeholders.
func TestTokenContractBodiesMatchGolden(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	tkUser(t, in, "golden@example.com")

	r := tkDo(t, http.MethodGet, in.URL+"/api/v1/mobile/auth/capabilities", nil)
	require.Equal(t, http.StatusOK, r.Status)
	tkGolden(t, "capabilities", r.Body)

	ott := tkOTT(t, in, "golden@example.com", "st-golden")
	r = tkPost(t, in.URL+tkExchangePath, map[string]any{"ott": ott, "state": "st-golden",
		"device": map[string]string{"platform": "ios", "appVersion": "1.2.3", "buildVersion": "45", "deviceId": "dev-1"}}, tkNextIP())
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	ex := r.JSON(t)
	assert.Len(t, strings.Split(ex["accessToken"].(string), "."), 3, "access token is a compact JWS")
	assert.GreaterOrEqual(t, len(ex["refreshToken"].(string)), 22, "refresh token carries ≥128 bits")
	tkGolden(t, "exchange", r.Body, "accessToken", "refreshToken")

	r = tkRefresh(t, in.URL, ex["refreshToken"].(string))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	rf := r.JSON(t)
	tkGolden(t, "refresh", r.Body, "accessToken", "refreshToken")

	r = tkPost(t, in.URL+tkRevokePath, map[string]any{"refreshToken": rf["refreshToken"]}, tkNextIP())
	require.Equal(t, http.StatusOK, r.Status)
	tkGolden(t, "revoke", r.Body)
	r = tkPost(t, in.URL+tkRevokePath, map[string]any{"refreshToken": "never-issued"}, tkNextIP())
	require.Equal(t, http.StatusOK, r.Status, "revoke of an unknown token answers the same")
	tkGolden(t, "revoke", r.Body)

	r = tkDo(t, http.MethodGet, in.URL+tkVerifyPath, nil)
	tkAssertError(t, r, http.StatusUnauthorized, mobileauth.CodeUnauthorized)
	tkGolden(t, "error-verify-no-token", r.Body)
	r = tkVerify(t, in.URL, "not-a-jwt")
	tkAssertError(t, r, http.StatusUnauthorized, mobileauth.CodeUnauthorized)
	tkGolden(t, "error-unauthorized", r.Body)

	errorCases := []struct {
		golden, method, path, body string
		status                     int
		code                       mobileauth.Code
	}{
		{"error-unauthorized", http.MethodPost, tkExchangePath, `{"ott":"unknown","state":"s"}`, 401, mobileauth.CodeUnauthorized},
		{"error-unauthorized", http.MethodPost, tkExchangePath, `{"ott":"` + ott + `","state":"st-golden"}`, 401, mobileauth.CodeUnauthorized},
		{"error-unauthorized", http.MethodPost, tkRefreshPath, `{"refreshToken":"unknown"}`, 401, mobileauth.CodeUnauthorized},
		{"error-unauthorized", http.MethodPost, tkRefreshPath, `{"refreshToken":"` + strings.Repeat("r", 600) + `"}`, 401, mobileauth.CodeUnauthorized},
		{"error-validation-malformed", http.MethodPost, tkExchangePath, `{"ott":`, 400, mobileauth.CodeValidation},
		{"error-validation-empty", http.MethodPost, tkRefreshPath, ``, 400, mobileauth.CodeValidation},
		{"error-validation-not-object", http.MethodPost, tkExchangePath, `[]`, 400, mobileauth.CodeValidation},
		{"error-validation-trailing", http.MethodPost, tkRevokePath, `{"refreshToken":"r"}{}`, 400, mobileauth.CodeValidation},
		{"error-validation-content-type", http.MethodPost, tkRevokePath, "", 400, mobileauth.CodeValidation},
		{"error-validation-wrong-type-ott", http.MethodPost, tkExchangePath, `{"ott":123,"state":"s"}`, 400, mobileauth.CodeValidation},
		{"error-validation-wrong-type-device-platform", http.MethodPost, tkRefreshPath, `{"refreshToken":"r","device":{"platform":5}}`, 400, mobileauth.CodeValidation},
		{"error-validation-missing-state", http.MethodPost, tkExchangePath, `{"ott":"a"}`, 400, mobileauth.CodeValidation},
		{"error-validation-missing-refresh-token", http.MethodPost, tkRevokePath, `{"refreshToken":""}`, 400, mobileauth.CodeValidation},
		{"error-payload-too-large", http.MethodPost, tkExchangePath, `{"ott":"` + strings.Repeat("a", 65<<10) + `"}`, 413, mobileauth.CodePayloadTooLarge},
		{"error-not-implemented-apple", http.MethodPost, "/api/v1/mobile/auth/apple", `{"identityToken":"x"}`, 501, mobileauth.CodeNotImplemented},
		{"error-not-found", http.MethodPost, "/api/v1/mobile/auth/nope", `{}`, 404, mobileauth.CodeNotFound},
		{"error-method-not-allowed", http.MethodGet, tkExchangePath, "", 405, "METHOD_NOT_ALLOWED"},
	}
	for _, c := range errorCases {
		t.Run(c.golden+" "+c.method+" "+c.path, func(t *testing.T) {
			var hdr []string
			if c.golden == "error-validation-content-type" {
				hdr = []string{"Content-Type", "application/xml"}
				c.body = `<refreshToken>r</refreshToken>`
			}
			r := tkDo(t, c.method, in.URL+c.path, strings.NewReader(c.body), append(hdr, "X-Forwarded-For", tkNextIP())...)
			tkAssertError(t, r, c.status, c.code)
			tkGolden(t, c.golden, r.Body)
		})
	}
}

// TestExchangeRefusalsOverHTTP: PKCE, state, expiry and a signed-out web
// session, each with its status and code; a refused OTT is burnt.
func TestExchangeRefusalsOverHTTP(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	u := tkUser(t, in, "pkce@example.com")
	sess, user := tkSession(t, in, "pkce@example.com")
	verifier := strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	post := func(body map[string]any) tkResponse {
		return tkPost(t, in.URL+tkExchangePath, body, tkNextIP())
	}

	t.Run("PKCE verifier missing is a 400 and burns the OTT", func(t *testing.T) {
		ott := tkOTTFor(t, in, sess, user, "st", challenge)
		r := post(map[string]any{"ott": ott, "state": "st"})
		tkAssertError(t, r, http.StatusBadRequest, mobileauth.CodeValidation)
		tkGolden(t, "error-validation-code-verifier", r.Body)
		r = post(map[string]any{"ott": ott, "state": "st", "code_verifier": verifier})
		tkAssertError(t, r, http.StatusUnauthorized, mobileauth.CodeUnauthorized)
	})
	t.Run("PKCE verifier mismatch is a 401", func(t *testing.T) {
		ott := tkOTTFor(t, in, sess, user, "st", challenge)
		r := post(map[string]any{"ott": ott, "state": "st", "code_verifier": strings.Repeat("w", 43)})
		tkAssertError(t, r, http.StatusUnauthorized, mobileauth.CodeUnauthorized)
		tkGolden(t, "error-unauthorized", r.Body)
	})
	t.Run("PKCE verifier match succeeds", func(t *testing.T) {
		ott := tkOTTFor(t, in, sess, user, "st", challenge)
		r := post(map[string]any{"ott": ott, "state": "st", "code_verifier": verifier})
		assert.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	})
	t.Run("state mismatch is a 401 and burns the OTT", func(t *testing.T) {
		ott := tkOTTFor(t, in, sess, user, "st-right", "")
		r := post(map[string]any{"ott": ott, "state": "st-wrong"})
		tkAssertError(t, r, http.StatusUnauthorized, mobileauth.CodeUnauthorized)
		tkGolden(t, "error-unauthorized", r.Body)
		r = post(map[string]any{"ott": ott, "state": "st-right"})
		tkAssertError(t, r, http.StatusUnauthorized, mobileauth.CodeUnauthorized)
	})
	t.Run("expired OTT is a 401", func(t *testing.T) {
		// Stored directly with a past expiry: no sleeping for the 1 s minimum TTL.
		raw := "expired-ott-" + strings.Repeat("x", 20)
		past := time.Now().Add(-2 * time.Minute)
		require.NoError(t, in.App.Store.CreateOTT(context.Background(), mobileauth.OneTimeToken{Hash: token.HashOf(raw),
			TenantID: u.TenantID, UserID: u.ID, SessionHash: sess.IDHash, State: "st", CreatedAt: past, ExpiresAt: past.Add(time.Minute)}))
		r := post(map[string]any{"ott": raw, "state": "st"})
		tkAssertError(t, r, http.StatusUnauthorized, mobileauth.CodeUnauthorized)
	})
	t.Run("web session signed out is a 401", func(t *testing.T) {
		s2, u2 := tkSession(t, in, "pkce@example.com")
		ott := tkOTTFor(t, in, s2, u2, "st", "")
		// SignOut takes the clear session id, which only the cookie knows;
		// revoking by hash is what it does underneath.
		require.NoError(t, in.App.Store.RevokeSession(context.Background(), s2.IDHash, time.Now()))
		r := post(map[string]any{"ott": ott, "state": "st"})
		tkAssertError(t, r, http.StatusUnauthorized, mobileauth.CodeUnauthorized)
	})
	t.Run("user disabled after the handoff is a 401", func(t *testing.T) {
		tkUser(t, in, "gone@example.com")
		ott := tkOTT(t, in, "gone@example.com", "st")
		require.NoError(t, in.App.Store.SetUserActive(context.Background(), tenantA, "gone@example.com", false, time.Now()))
		r := post(map[string]any{"ott": ott, "state": "st"})
		tkAssertError(t, r, http.StatusUnauthorized, mobileauth.CodeUnauthorized)
	})
}

// TestExchangeForbiddenByEditionAndPlan: the two 403 texts of SPEC §3.4.
func TestExchangeForbiddenByEditionAndPlan(t *testing.T) {
	t.Run("Community Edition", func(t *testing.T) {
		env := baseEnv(t, freeAddr(t))
		env["EDITION"] = "ce"
		in := start(t, env)
		r := tkDo(t, http.MethodGet, in.URL+"/api/v1/mobile/auth/capabilities", nil)
		require.Equal(t, http.StatusOK, r.Status)
		tkGolden(t, "capabilities-community", r.Body)
		tkUser(t, in, "ce@example.com")
		ott := tkOTT(t, in, "ce@example.com", "st")
		r = tkPost(t, in.URL+tkExchangePath, map[string]any{"ott": ott, "state": "st"}, tkNextIP())
		e := tkAssertError(t, r, http.StatusForbidden, mobileauth.CodeForbidden)
		assert.Equal(t, "Mobile app access is not available on this edition", e["message"])
		tkGolden(t, "error-forbidden-edition", r.Body)
	})
	t.Run("hosted tenant on the essentials plan", func(t *testing.T) {
		env := baseEnv(t, freeAddr(t))
		delete(env, "ALGA_TRIAL_STARTED_AT") // hosted licensing: the tenant's plan decides
		in := start(t, env)
		tkUser(t, in, "plan@example.com")
		require.NoError(t, in.App.Store.SetTenantPlan(context.Background(), tenantA, mobileauth.TierEssentials))
		ott := tkOTT(t, in, "plan@example.com", "st")
		r := tkPost(t, in.URL+tkExchangePath, map[string]any{"ott": ott, "state": "st"}, tkNextIP())
		e := tkAssertError(t, r, http.StatusForbidden, mobileauth.CodeForbidden)
		assert.Equal(t, "Mobile app access is not available on your plan", e["message"])
		tkGolden(t, "error-forbidden-plan", r.Body)
	})
}

// tkAssertRateLimited checks a 429: Retry-After in whole seconds close to
// the 5-minute block, and details.msBeforeNext agreeing with it.
func tkAssertRateLimited(t testing.TB, r tkResponse) {
	t.Helper()
	e := tkAssertError(t, r, http.StatusTooManyRequests, mobileauth.CodeRateLimited)
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After is whole seconds: %q", r.Header.Get("Retry-After"))
	assert.InDelta(t, 300, secs, 5, "Retry-After ≈ the 5-minute block")
	details, _ := e["details"].(map[string]any)
	ms, ok := details["msBeforeNext"].(float64)
	require.True(t, ok, "details.msBeforeNext is a number: %s", r.Body)
	assert.InDelta(t, 300_000, ms, 5_000)
	assert.Equal(t, int((int64(ms)+999)/1000), secs, "Retry-After rounds msBeforeNext up")
}

// TestTokenEndpointsRateLimitPerIP: the 11th exchange and the 31st
// refresh from one client address are refused for 5 minutes; the limit
// runs before the lookup, so a refused valid OTT is not burnt.
func TestTokenEndpointsRateLimitPerIP(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	tkUser(t, in, "rl@example.com")
	const ip = "203.0.113.7"
	for i := 1; i <= 10; i++ {
		r := tkPost(t, in.URL+tkExchangePath, map[string]any{"ott": "unknown-" + strconv.Itoa(i), "state": "s"}, ip)
		require.Equal(t, http.StatusUnauthorized, r.Status, "exchange %d: %s", i, r.Body)
	}
	ott := tkOTT(t, in, "rl@example.com", "st")
	r := tkPost(t, in.URL+tkExchangePath, map[string]any{"ott": ott, "state": "st"}, ip)
	tkAssertRateLimited(t, r)
	tkGolden(t, "error-rate-limited", r.Body, "error.details.msBeforeNext")
	r = tkPost(t, in.URL+tkExchangePath, map[string]any{"ott": ott, "state": "st"}, ip)
	tkAssertRateLimited(t, r)
	r = tkPost(t, in.URL+tkExchangePath, map[string]any{"ott": ott, "state": "st"}, "203.0.113.8")
	assert.Equal(t, http.StatusOK, r.Status, "another address, and the OTT was not burnt by the 429: %s", r.Body)

	for i := 1; i <= 30; i++ {
		r := tkPost(t, in.URL+tkRefreshPath, map[string]any{"refreshToken": "unknown-" + strconv.Itoa(i)}, ip)
		require.Equal(t, http.StatusUnauthorized, r.Status, "refresh %d: %s", i, r.Body)
	}
	tkAssertRateLimited(t, tkPost(t, in.URL+tkRefreshPath, map[string]any{"refreshToken": "unknown-31"}, ip))
	assert.Equal(t, http.StatusUnauthorized, tkPost(t, in.URL+tkRefreshPath, map[string]any{"refreshToken": "x"}, "203.0.113.9").Status)
}

// TestExchangeRateLimitPerUser: the 11th exchange of one user, each from
// its own address, is refused (SPEC §3.4: 10/min per tenant:user).
func TestExchangeRateLimitPerUser(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	tkUser(t, in, "busy@example.com")
	sess, u := tkSession(t, in, "busy@example.com")
	for i := 1; i <= 10; i++ {
		tkExchange(t, in, tkOTTFor(t, in, sess, u, "st", ""), "st")
	}
	r := tkPost(t, in.URL+tkExchangePath, map[string]any{"ott": tkOTTFor(t, in, sess, u, "st", ""), "state": "st"}, tkNextIP())
	tkAssertRateLimited(t, r)
}

// TestRefreshRateLimitPerUserHasNoSideEffect: the 31st refresh of one
// user in a minute is refused before the rotation, so the refused token
// stays live (a retry after the block must not read as theft).
func TestRefreshRateLimitPerUserHasNoSideEffect(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	tkUser(t, in, "chain@example.com")
	rt := tkExchange(t, in, tkOTT(t, in, "chain@example.com", "st"), "st").RefreshToken
	for range 30 {
		rt = tkRotate(t, in.URL, rt).Refresh
	}
	tkAssertRateLimited(t, tkRefresh(t, in.URL, rt))
	got, err := in.App.Store.GetRefreshToken(context.Background(), token.HashOf(rt))
	require.NoError(t, err)
	assert.Nil(t, got.RotatedAt, "the refused token was not rotated")
	assert.Nil(t, got.ReplacedBy)
	assert.Nil(t, got.RevokedAt)
}

// tkOddStrings exchanges and refreshes with device strings a database may
// choke on (NUL, replacement characters, 60 kB): accepted, never a 500.
func tkOddStrings(t *testing.T, in *instance) {
	tkUser(t, in, "odd@example.com")
	for name, dev := range map[string]string{
		"NUL":           `{"platform":"ios\u0000","deviceId":"\u0000"}`,
		"invalid UTF-8": "{\"appVersion\":\"1.0\xff\xfe\"}",
		"60 kB":         `{"deviceId":"` + strings.Repeat("d", 60_000) + `"}`,
		"unknown keys":  `{"platform":"android","model":{"x":1},"extra":[1,2]}`,
	} {
		t.Run(name, func(t *testing.T) {
			ott := tkOTT(t, in, "odd@example.com", "st")
			r := tkDo(t, http.MethodPost, in.URL+tkExchangePath, strings.NewReader(`{"ott":"`+ott+`","state":"st","device":`+dev+`}`),
				"X-Forwarded-For", tkNextIP())
			require.Equal(t, http.StatusOK, r.Status, "exchange: %s", r.Body)
			rt := r.JSON(t)["refreshToken"].(string)
			r = tkDo(t, http.MethodPost, in.URL+tkRefreshPath, strings.NewReader(`{"refreshToken":"`+rt+`","device":`+dev+`}`),
				"X-Forwarded-For", tkNextIP())
			assert.Equal(t, http.StatusOK, r.Status, "refresh: %s", r.Body)
		})
	}
	for name, body := range map[string]string{
		"NUL in ott and state": `{"ott":"x\u0000","state":"\u0000"}`,
		"NUL-only ott":         `{"ott":"\u0000","state":"s"}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := tkDo(t, http.MethodPost, in.URL+tkExchangePath, strings.NewReader(body), "X-Forwarded-For", tkNextIP())
			tkAssertError(t, r, http.StatusUnauthorized, mobileauth.CodeUnauthorized)
		})
	}
	for _, path := range []string{tkRefreshPath, tkRevokePath} {
		r := tkDo(t, http.MethodPost, in.URL+path, strings.NewReader(`{"refreshToken":"r\u0000"}`), "X-Forwarded-For", tkNextIP())
		assert.Contains(t, []int{http.StatusOK, http.StatusUnauthorized}, r.Status, "%s: %s", path, r.Body)
	}
}

func TestTokenEndpointsTakeOddStringsOnSQLite(t *testing.T) {
	tkOddStrings(t, start(t, baseEnv(t, freeAddr(t))))
}
