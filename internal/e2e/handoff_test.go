package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// Every branch of SPEC §3.3, in its order, with its exact Location.

// siHandoffQuery builds a handoff path from its parameters; empty values
// are sent as given (present but empty) unless the key is left out.
func siHandoffQuery(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	if len(v) == 0 {
		return "/auth/mobile/handoff"
	}
	return "/auth/mobile/handoff?" + v.Encode()
}

// siLocation fetches u with c, expects a 302 that must not be cached, and
// returns its Location. A "Host" pair sets the request's Host header (the
// client would ignore it as an ordinary header); c must then have a jar.
func siLocation(t *testing.T, c *http.Client, u string, hdr ...string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			// The client picks cookies by Host; a browser behind a proxy
			// would hold them for this origin, so send them ourselves.
			req.Host = hdr[i+1]
			for _, ck := range c.Jar.Cookies(req.URL) {
				req.AddCookie(ck)
			}
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := c.Do(req)
	require.NoError(t, err)
	defer func() { _ = r.Body.Close() }()
	require.Equal(t, http.StatusFound, r.StatusCode, u)
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"), "every handoff answer is uncacheable")
	return r.Header.Get("Location")
}

func TestHandoffMissingParametersGoToSignIn(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	in.addUser(t, tenantA, "tech@example.com", mobileauth.UserInternal)
	signedIn := siSignedIn(t, in, "tech@example.com")
	for _, path := range []string{
		siHandoffQuery(),
		siHandoffQuery("redirect", "alga://auth/callback"),
		siHandoffQuery("state", "st"),
		siHandoffQuery("redirect", "", "state", "st"),
		siHandoffQuery("redirect", "alga://auth/callback", "state", ""),
		siHandoffQuery("redirect", "javascript:alert(1)"),
		siHandoffQuery("Redirect", "alga://auth/callback", "State", "st"),
	} {
		for name, c := range map[string]*http.Client{"anonymous": browser(t), "signed in": signedIn} {
			t.Run(name+" "+path, func(t *testing.T) {
				assert.Equal(t, "/auth/signin", siLocation(t, c, in.URL+path))
			})
		}
	}
}

func TestHandoffRefusesInvalidRedirects(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	in.addUser(t, tenantA, "tech@example.com", mobileauth.UserInternal)
	signedIn := siSignedIn(t, in, "tech@example.com")
	invalid := []string{
		"http://auth/callback",                               // http scheme
		"http://app.example.com/auth/callback",               // http scheme, good path
		"alga://evil/callback",                               // wrong host
		"alga://auth.evil.example/callback",                  // wrong host
		"alga://auth/other",                                  // wrong path
		"alga://auth/callback/x",                             // path continues
		"alga://auth/",                                       // no path
		"alga://auth",                                        // no path at all
		"https://app.example.com/auth/callbackx",             // path does not end /auth/callback
		"https://app.example.com/auth/callback/",             // trailing slash
		"javascript:alert(1)",                                // script
		"javascript://auth/callback\nalert(1)",               // script with a newline
		"data:text/html,<script>alert(1)</script>",           // data
		"file:///auth/callback",                              // file, no host
		"ftp://auth/callback",                                // other scheme
		"alga://user@auth/callback",                          // user info
		"alga://user:pw@auth/callback",                       // user info with password
		"https://app.example.com@evil.example/auth/callback", // user info smuggling a host
		"alga://auth/callback#frag",                          // fragment
		"alga:auth/callback",                                 // opaque
		"alga:///callback",                                   // no host
		"https:///auth/callback",                             // no host
		"//auth/callback",                                    // no scheme
		"/auth/callback",                                     // relative
		`alga://auth/callback\evil`,                          // backslash
		" alga://auth/callback",                              // leading space
		"alga://auth/callback\x00",                           // NUL
		"https://app.example.com/" + strings.Repeat("a", 2100) + "/auth/callback", // absurdly long
	}
	for _, redirect := range invalid {
		for name, c := range map[string]*http.Client{"anonymous": browser(t), "signed in": signedIn} {
			t.Run(fmt.Sprintf("%s %.60q", name, redirect), func(t *testing.T) {
				assert.Equal(t, "/auth/signin?error=invalid_redirect",
					siLocation(t, c, in.URL+siHandoffQuery("redirect", redirect, "state", "st")))
			})
		}
	}
	t.Run("state over 512 characters", func(t *testing.T) {
		assert.Equal(t, "/auth/signin?error=invalid_redirect",
			siLocation(t, signedIn, in.URL+siHandoffQuery("redirect", "alga://auth/callback", "state", strings.Repeat("s", 513))))
	})
	for _, state := range []string{"\x00", "a\nb", "\xff\xfe"} {
		t.Run(fmt.Sprintf("state %q with control or invalid bytes", state), func(t *testing.T) {
			assert.Equal(t, "/auth/signin?error=invalid_redirect",
				siLocation(t, signedIn, in.URL+siHandoffQuery("redirect", "alga://auth/callback", "state", state)))
		})
	}
	// Our rule on top of SPEC §3.3: https/exp redirects must not carry a
	// signed-in browser's OTT to a host the appliance does not trust.
	for _, redirect := range []string{"https://evil.example/auth/callback", "https://auth/callback",
		"exp://auth/callback", "exp://evil.example:80/x/auth/callback", "exp://8.8.8.8:8081/--/auth/callback"} {
		t.Run("untrusted host "+redirect, func(t *testing.T) {
			assert.Equal(t, "/auth/signin?error=invalid_redirect",
				siLocation(t, signedIn, in.URL+siHandoffQuery("redirect", redirect, "state", "st")))
		})
	}
	t.Run("the allowed forms issue an OTT", func(t *testing.T) {
		for _, redirect := range []string{"alga://auth/callback",
			"exp://192.168.1.5:8081/--/auth/callback", "https://127.0.0.1/auth/callback", "alga://AUTH/callback"} {
			loc := siLocation(t, signedIn, in.URL+siHandoffQuery("redirect", redirect, "state", "ok"))
			u, err := url.Parse(loc)
			require.NoError(t, err)
			assert.NotEmpty(t, u.Query().Get("ott"), "%s → %s", redirect, loc)
		}
	})
}

func TestHandoffWithoutSessionAsksForSignIn(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	for name, path := range map[string]string{
		"plain": siHandoffPath("st-1"),
		"with PKCE and app parameters": siHandoffQuery("redirect", "https://127.0.0.1/auth/callback?x=1", "state", "st-2",
			"code_challenge", siChallenge(siVerifier), "code_challenge_method", "S256"),
	} {
		t.Run(name, func(t *testing.T) {
			want := "/auth/signin?callbackUrl=" + url.QueryEscape(in.URL+path)
			assert.Equal(t, want, siLocation(t, browser(t), in.URL+path))
			assert.Equal(t, want, siLocation(t, browser(t), in.URL+path, "Cookie", "alga_mobile_session=forged"), "a forged cookie is no session")
			assert.Equal(t, want, siLocation(t, browser(t), in.URL+path, "Cookie", "alga_mobile_session="+strings.Repeat("A", 200)))
		})
	}
}

func TestHandoffRefusesClientUsers(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	in.addUser(t, tenantA, "customer@example.com", mobileauth.UserClient)
	c := siSignedIn(t, in, "customer@example.com")

	assert.Equal(t, "alga://auth/callback?error=client_not_allowed&state=st",
		siLocation(t, c, in.URL+siHandoffQuery("redirect", "alga://auth/callback", "state", "st")))
	assert.Equal(t, "https://127.0.0.1/auth/callback?error=client_not_allowed&state=st+2&x=1",
		siLocation(t, c, in.URL+siHandoffQuery("redirect", "https://127.0.0.1/auth/callback?x=1", "state", "st 2")),
		"the redirect's own parameters are kept")
	assert.Equal(t, "alga://auth/callback?error=client_not_allowed&state=st",
		siLocation(t, c, in.URL+siHandoffPath("st"), "X-Forwarded-Host", "evil.example"),
		"step 4 (client) comes before step 5 (host)")
	var n int
	require.NoError(t, in.App.Store.DB().QueryRowContext(t.Context(), "SELECT COUNT(*) FROM one_time_tokens").Scan(&n))
	assert.Zero(t, n, "no OTT was issued")
}

func TestHandoffRefusesHostsOffTheAllowlist(t *testing.T) {
	t.Run("allowlist names another host", func(t *testing.T) {
		env := baseEnv(t, freeAddr(t))
		env["ALGA_MOBILE_HOST_ALLOWLIST"] = "psa.example.com"
		in := start(t, env)
		in.addUser(t, tenantA, "tech@example.com", mobileauth.UserInternal)
		c := siSignedIn(t, in, "tech@example.com")

		assert.Equal(t, "alga://auth/callback?error=host_not_allowlisted&state=st", siLocation(t, c, in.URL+siHandoffPath("st")))
		loc := siLocation(t, c, in.URL+siHandoffPath("st"), "X-Forwarded-Host", "psa.example.com")
		assert.True(t, strings.HasPrefix(loc, "alga://auth/callback?ott="), "the listed host, via a trusted proxy: %s", loc)
		loc = siLocation(t, c, in.URL+siHandoffPath("st"), "Host", "PSA.example.com")
		assert.True(t, strings.HasPrefix(loc, "alga://auth/callback?ott="), "the listed host, any case: %s", loc)
	})
	t.Run("no allowlist: only NEXTAUTH_URL's host", func(t *testing.T) {
		in := start(t, baseEnv(t, freeAddr(t)))
		in.addUser(t, tenantA, "tech@example.com", mobileauth.UserInternal)
		c := siSignedIn(t, in, "tech@example.com")

		assert.Equal(t, "alga://auth/callback?error=host_not_allowlisted&state=st",
			siLocation(t, c, in.URL+siHandoffPath("st"), "Host", "evil.example"), "a foreign Host header")
		assert.Equal(t, "alga://auth/callback?error=host_not_allowlisted&state=st",
			siLocation(t, c, in.URL+siHandoffPath("st"), "X-Forwarded-Host", "evil.example"), "a foreign forwarded host")
		assert.True(t, strings.HasPrefix(siLocation(t, c, in.URL+siHandoffPath("st")), "alga://auth/callback?ott="))
	})
	t.Run("allowlist that includes the appliance", func(t *testing.T) {
		env := baseEnv(t, freeAddr(t))
		env["ALGA_MOBILE_HOST_ALLOWLIST"] = "psa.example.com, 127.0.0.1"
		in := start(t, env)
		in.addUser(t, tenantA, "tech@example.com", mobileauth.UserInternal)
		c := siSignedIn(t, in, "tech@example.com")
		assert.True(t, strings.HasPrefix(siLocation(t, c, in.URL+siHandoffPath("st")), "alga://auth/callback?ott="))
	})
}

func TestHandoffRateLimitsTheEleventhInAMinute(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	in.addUser(t, tenantA, "tech@example.com", mobileauth.UserInternal)
	in.addUser(t, tenantA, "other@example.com", mobileauth.UserInternal)
	c := siSignedIn(t, in, "tech@example.com")
	for i := 1; i <= 10; i++ {
		siOTT(t, c, in, fmt.Sprintf("s%d", i))
	}
	assert.Equal(t, "alga://auth/callback?error=rate_limited&state=s11", siLocation(t, c, in.URL+siHandoffPath("s11")))
	assert.Equal(t, "https://127.0.0.1/auth/callback?error=rate_limited&state=s12&x=1",
		siLocation(t, c, in.URL+siHandoffQuery("redirect", "https://127.0.0.1/auth/callback?x=1", "state", "s12")),
		"still blocked, redirect parameters kept")
	siOTT(t, siSignedIn(t, in, "other@example.com"), in, "other-user")
}

// siVerifier is a valid RFC 7636 code verifier (43 characters).
const siVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

func siChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestHandoffPKCE(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	in.addUser(t, tenantA, "tech@example.com", mobileauth.UserInternal)
	c := siSignedIn(t, in, "tech@example.com")
	pkceOTT := func(state string) string {
		loc := siLocation(t, c, in.URL+siHandoffQuery("redirect", "alga://auth/callback", "state", state,
			"code_challenge", siChallenge(siVerifier), "code_challenge_method", "S256"))
		u, err := url.Parse(loc)
		require.NoError(t, err)
		require.NotEmpty(t, u.Query().Get("ott"), loc)
		assert.Equal(t, state, u.Query().Get("state"))
		assert.Empty(t, u.Query().Get("code_challenge"), "the challenge is not echoed to the app")
		return u.Query().Get("ott")
	}
	exchange := func(ott, state, verifier string) (int, map[string]any) {
		body := map[string]any{"ott": ott, "state": state}
		if verifier != "" {
			body["code_verifier"] = verifier
		}
		resp, out := postJSON(t, in.URL+"/api/v1/mobile/auth/exchange", body)
		return resp.StatusCode, out
	}

	status, _ := exchange(pkceOTT("p1"), "p1", "")
	assert.Equal(t, http.StatusBadRequest, status, "no verifier for a PKCE-bound OTT")
	status, _ = exchange(pkceOTT("p2"), "p2", strings.Repeat("w", 43))
	assert.Equal(t, http.StatusUnauthorized, status, "wrong verifier")
	status, out := exchange(pkceOTT("p3"), "p3", siVerifier)
	require.Equal(t, http.StatusOK, status, "right verifier: %v", out)
	access, _ := out["accessToken"].(string)
	v := get(t, http.DefaultClient, in.URL+"/api/v1/mobile/auth/verify", "Authorization", "Bearer "+access)
	assert.Equal(t, http.StatusOK, v.StatusCode)

	for name, params := range map[string][]string{
		"plain method":            {"code_challenge", siVerifier, "code_challenge_method", "plain"},
		"lower-case s256":         {"code_challenge", siChallenge(siVerifier), "code_challenge_method", "s256"},
		"challenge, no method":    {"code_challenge", siChallenge(siVerifier)},
		"method, no challenge":    {"code_challenge_method", "S256"},
		"short challenge":         {"code_challenge", "abc", "code_challenge_method", "S256"},
		"challenge not base64url": {"code_challenge", strings.Repeat("+", 43), "code_challenge_method", "S256"},
	} {
		t.Run(name, func(t *testing.T) {
			path := siHandoffQuery(append([]string{"redirect", "alga://auth/callback", "state", "st"}, params...)...)
			assert.Equal(t, "alga://auth/callback?error=invalid_request&state=st", siLocation(t, c, in.URL+path))
		})
	}
}

func TestHandoffKeepsRedirectParametersAndIsNotCached(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	in.addUser(t, tenantA, "tech@example.com", mobileauth.UserInternal)
	c := siSignedIn(t, in, "tech@example.com")

	r := get(t, c, in.URL+siHandoffQuery("redirect", "https://127.0.0.1/auth/callback?tenant=t1&mode=a+b&ott=planted&state=planted",
		"state", "st-keep"))
	require.Equal(t, http.StatusFound, r.StatusCode)
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	assert.Equal(t, "no-referrer", r.Header.Get("Referrer-Policy"))
	u, err := url.Parse(r.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "https://127.0.0.1/auth/callback", u.Scheme+"://"+u.Host+u.Path)
	q := u.Query()
	assert.Equal(t, []string{"t1"}, q["tenant"])
	assert.Equal(t, []string{"a b"}, q["mode"])
	assert.Equal(t, []string{"st-keep"}, q["state"], "our state replaces a planted one")
	require.Len(t, q["ott"], 1, "exactly one OTT")
	assert.NotEqual(t, "planted", q.Get("ott"))

	resp, out := postJSON(t, in.URL+"/api/v1/mobile/auth/exchange", map[string]any{"ott": q.Get("ott"), "state": "st-keep"})
	assert.Equal(t, http.StatusOK, resp.StatusCode, "%v", out)

	loc := siLocation(t, c, in.URL+siHandoffQuery("redirect", "exp://192.168.1.5:8081/--/auth/callback?foo=bar", "state", "s"))
	u, err = url.Parse(loc)
	require.NoError(t, err)
	assert.Equal(t, "exp://192.168.1.5:8081/--/auth/callback", u.Scheme+"://"+u.Host+u.Path)
	assert.Equal(t, "bar", u.Query().Get("foo"))
	assert.NotEmpty(t, u.Query().Get("ott"))
}
