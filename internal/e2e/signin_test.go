package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// Tests of the browser sign-in page and its session (SPEC §3.2), driven
// over HTTP against the real app on loopback.

const siTenantB = "22222222-2222-4222-8222-222222222222"

// siHandoffPath is the handoff the app opens after sign-in, as a path.
func siHandoffPath(state string) string {
	return "/auth/mobile/handoff?" + url.Values{"redirect": {"alga://auth/callback"}, "state": {state}}.Encode()
}

// siProviderLinks are the sign-in buttons of a page: class, href, label.
var siProviderLinks = regexp.MustCompile(`<a class="([^"]*)" href="([^"]*)">Continue with ([^<]*)</a>`)

type siLink struct{ Class, Href, Label string }

func siLinks(body string) []siLink {
	var out []siLink
	for _, m := range siProviderLinks.FindAllStringSubmatch(body, -1) {
		out = append(out, siLink{Class: m[1], Href: html.UnescapeString(m[2]), Label: m[3]})
	}
	return out
}

// siPage fetches a page and returns the response and its body.
func siPage(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	r := get(t, c, u)
	return r, readAll(t, r)
}

// siSetCookie is the Set-Cookie of r named name, or nil.
func siSetCookie(r *http.Response, name string) *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// siSessions counts the web sessions in the store, whatever their state.
func siSessions(t *testing.T, in *instance) int {
	t.Helper()
	var n int
	require.NoError(t, in.App.Store.DB().QueryRowContext(context.Background(), "SELECT COUNT(*) FROM web_sessions").Scan(&n))
	return n
}

// siSignedIn is a browser signed in as email through the development provider.
func siSignedIn(t *testing.T, in *instance, email string) *http.Client {
	t.Helper()
	c := browser(t)
	r := signIn(t, c, in.URL, "", email)
	require.Equal(t, http.StatusFound, r.StatusCode)
	require.Equal(t, "/auth/signin", r.Header.Get("Location"))
	return c
}

func TestSignInPageShowsOneButtonPerProvider(t *testing.T) {
	idp := siStartIdP(t)
	addr := freeAddr(t)
	in := start(t, idp.env(baseEnv(t, addr)))

	r, body := siPage(t, browser(t), in.URL+"/auth/signin")
	require.Equal(t, http.StatusOK, r.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", r.Header.Get("Content-Type"))
	assert.Equal(t, []siLink{
		{Class: "btn primary", Href: "/auth/signin/google", Label: "Google"},
		{Class: "btn", Href: "/auth/signin/dev", Label: "Development sign-in"},
	}, siLinks(body), "Google first, then the development provider")
	assert.NotContains(t, body, "not configured")
	assert.NotContains(t, body, `role="alert"`, "no error, no alert")

	t.Run("buttons carry a same-origin callbackUrl as a path", func(t *testing.T) {
		_, body := siPage(t, browser(t), in.URL+"/auth/signin?"+url.Values{"callbackUrl": {in.URL + siHandoffPath("s1")}}.Encode())
		q := "?" + url.Values{"callbackUrl": {siHandoffPath("s1")}}.Encode()
		assert.Equal(t, []siLink{
			{Class: "btn primary", Href: "/auth/signin/google" + q, Label: "Google"},
			{Class: "btn", Href: "/auth/signin/dev" + q, Label: "Development sign-in"},
		}, siLinks(body))
	})
}

func TestSignInPageSaysSSOIsNotConfigured(t *testing.T) {
	env := baseEnv(t, freeAddr(t))
	env["ALGA_MOBILE_DEV_IDP"] = "false"
	in := start(t, env)

	r, body := siPage(t, browser(t), in.URL+"/auth/signin?callbackUrl="+url.QueryEscape(in.URL+siHandoffPath("s")))
	require.Equal(t, http.StatusOK, r.StatusCode)
	assert.Contains(t, body, "Single sign-on is not configured on this server, so nobody can sign in yet.")
	assert.Empty(t, siLinks(body))
	assert.NotContains(t, body, "/auth/signin/")

	r = get(t, browser(t), in.URL+"/auth/signin/dev")
	assert.Equal(t, http.StatusFound, r.StatusCode)
	assert.Equal(t, "/auth/signin?error=unknown_provider", r.Header.Get("Location"), "an unconfigured provider cannot be started")
}

func TestSignInPageRendersEveryErrorAsASentence(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	sentences := map[string]string{
		"invalid_redirect":     "The app asked to return to an address this server does not accept. Update the app, or ask your administrator.",
		"flow_expired":         "Your sign-in took too long or was started in another browser. Please try again.",
		"access_denied":        "Sign-in was cancelled at the provider.",
		"provider_unavailable": "The sign-in provider could not be reached. Please try again in a moment.",
		"email_not_verified":   "Your e-mail address is not verified with the sign-in provider, so it cannot be used here.",
		"sign_in_failed":       "The sign-in provider's answer could not be verified. Please try again.",
		"unknown_provider":     "That sign-in option is not available on this server.",
		"session_expired":      "Your session has ended. Please sign in again.",
	}
	const generic = "Sign-in did not complete. Please try again."
	for code, sentence := range sentences {
		t.Run(code, func(t *testing.T) {
			r, body := siPage(t, browser(t), in.URL+"/auth/signin?error="+code)
			require.Equal(t, http.StatusOK, r.StatusCode)
			assert.Contains(t, html.UnescapeString(body), `<p class="alert" role="alert">`+sentence+`</p>`)
			assert.NotContains(t, body, generic)
		})
	}
	for _, code := range []string{"totally_made_up", "<script>alert(1)</script>", `"><img src=x onerror=alert(1)>`,
		"Your account has been hacked, call +1 555 0100", strings.Repeat("A", 3000)} {
		t.Run("unknown code "+code[:min(len(code), 20)], func(t *testing.T) {
			r, body := siPage(t, browser(t), in.URL+"/auth/signin?"+url.Values{"error": {code}}.Encode())
			require.Equal(t, http.StatusOK, r.StatusCode)
			assert.Contains(t, body, `<p class="alert" role="alert">`+generic+`</p>`)
			for _, s := range []string{code, html.EscapeString(code), "alert(1)", "555 0100", "made_up", "AAAA"} {
				assert.NotContains(t, body, s, "the page never echoes what a link carries")
			}
		})
	}
}

func TestSignInPageSecurityHeaders(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	for _, path := range []string{"/auth/signin", "/auth/signin?error=flow_expired",
		"/auth/signin?callbackUrl=" + url.QueryEscape(siHandoffPath("s"))} {
		t.Run(path, func(t *testing.T) {
			r, body := siPage(t, browser(t), in.URL+path)
			require.Equal(t, http.StatusOK, r.StatusCode)
			siAssertPageHeaders(t, r, body)
		})
	}
}

// siAssertPageHeaders checks SPEC §3.2's security headers and that the
// page needs nothing from elsewhere and runs no script.
func siAssertPageHeaders(t *testing.T, r *http.Response, body string) {
	t.Helper()
	csp := r.Header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "default-src 'none'")
	assert.Contains(t, csp, "frame-ancestors 'none'")
	assert.NotContains(t, csp, "script-src", "no script is allowed at all (default-src 'none' covers it)")
	assert.NotContains(t, csp, "unsafe-inline")
	assert.NotContains(t, csp, "unsafe-eval")
	assert.Equal(t, "DENY", r.Header.Get("X-Frame-Options"))
	assert.Equal(t, "no-referrer", r.Header.Get("Referrer-Policy"))
	assert.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	assert.NotContains(t, strings.ToLower(body), "<script")
	assert.NotRegexp(t, `(?i)(src|href|action)="(https?:)?//`, body, "no external assets")
	// The one inline style block is exactly the one the CSP hash allows,
	// so a real browser applies it.
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(body)
	if assert.NotNil(t, m, "inline style") {
		sum := sha256.Sum256([]byte(m[1]))
		assert.Contains(t, csp, "style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
}

func TestSignInWithSessionGoesStraightToCallback(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	in.addUser(t, tenantA, "tech@example.com", mobileauth.UserInternal)
	c := siSignedIn(t, in, "tech@example.com")

	r := get(t, c, in.URL+"/auth/signin?"+url.Values{"callbackUrl": {in.URL + siHandoffPath("s2")}}.Encode())
	require.Equal(t, http.StatusFound, r.StatusCode)
	assert.Equal(t, siHandoffPath("s2"), r.Header.Get("Location"))
	r = get(t, c, in.URL+r.Header.Get("Location"))
	require.Equal(t, http.StatusFound, r.StatusCode)
	assert.True(t, strings.HasPrefix(r.Header.Get("Location"), "alga://auth/callback?ott="), r.Header.Get("Location"))

	t.Run("without callbackUrl the page says who is signed in", func(t *testing.T) {
		r, body := siPage(t, c, in.URL+"/auth/signin")
		require.Equal(t, http.StatusOK, r.StatusCode)
		assert.Contains(t, body, "You are signed in as <strong>tech@example.com</strong>.")
		assert.Contains(t, body, `<form method="post" action="/auth/signout">`)
		assert.Empty(t, siLinks(body))
	})
}

// siOffOrigin are callbackUrl values that must be dropped: each would send
// the browser to another site if honoured (or confused a lax parser).
func siOffOrigin(origin string) []string {
	host := strings.TrimPrefix(origin, "http://")
	return []string{
		"//evil.example",
		"///evil.example",
		"https://evil.example",
		"HTTPS://EVIL.EXAMPLE/auth/mobile/handoff",
		"http://evil.example" + siHandoffPath("s"),
		`/\evil.example`,
		`\/evil.example`,
		`\\evil.example`,
		"%2F%2Fevil.example",
		"/%2F%2Fevil.example",
		"/%2fevil.example",
		"/%5Cevil.example",
		"%5C%5Cevil.example",
		"https:evil.example",
		"https:/evil.example",
		"javascript:alert(1)",
		"JaVaScRiPt:alert(1)",
		"data:text/html,<script>alert(1)</script>",
		"https://" + host + "@evil.example",
		origin + "@evil.example",
		`https://evil.example\@` + host,
		"https://" + host + siHandoffPath("s"), // same host, other scheme: another origin
		" //evil.example",
		"/\t/evil.example",
		"/\n/evil.example",
	}
}

func TestSignInDropsOffOriginCallbackURL(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	in.addUser(t, tenantA, "tech@example.com", mobileauth.UserInternal)
	signedIn := siSignedIn(t, in, "tech@example.com")

	for _, evil := range siOffOrigin(in.URL) {
		t.Run(evil, func(t *testing.T) {
			q := "?" + url.Values{"callbackUrl": {evil}}.Encode()

			// The page's buttons do not carry it.
			r, body := siPage(t, browser(t), in.URL+"/auth/signin"+q)
			require.Equal(t, http.StatusOK, r.StatusCode)
			assert.Equal(t, []siLink{{Class: "btn primary", Href: "/auth/signin/dev", Label: "Development sign-in"}}, siLinks(body))
			assert.NotContains(t, html.UnescapeString(body), "evil.example")

			// A signed-in browser is not redirected to it.
			r = get(t, signedIn, in.URL+"/auth/signin"+q)
			assert.Equal(t, http.StatusOK, r.StatusCode)
			assert.Empty(t, r.Header.Get("Location"))

			// Signing in with it lands on the sign-in page, on our origin.
			r = signIn(t, browser(t), in.URL, evil, "tech@example.com")
			require.Equal(t, http.StatusFound, r.StatusCode)
			assert.Equal(t, "/auth/signin", r.Header.Get("Location"))

			// A refused sign-in does not carry it either.
			r = get(t, browser(t), in.URL+"/auth/signin/nope"+q)
			assert.Equal(t, "/auth/signin?error=unknown_provider", r.Header.Get("Location"))
		})
	}

	// Paths with dot segments or encoded characters stay on our origin
	// whatever the browser makes of them.
	for _, tricky := range []string{"/.//evil.example", "/..//evil.example", "/%09/evil.example", "/auth/../\u2215\u2215evil.example"} {
		t.Run("stays on origin "+tricky, func(t *testing.T) {
			for _, r := range []*http.Response{
				get(t, signedIn, in.URL+"/auth/signin?"+url.Values{"callbackUrl": {tricky}}.Encode()),
				signIn(t, browser(t), in.URL, tricky, "tech@example.com"),
			} {
				loc := r.Header.Get("Location")
				if r.StatusCode != http.StatusFound {
					continue
				}
				siAssertOnOrigin(t, in.URL, loc)
			}
		})
	}
}

// siAssertOnOrigin checks that a browser following loc stays on origin.
func siAssertOnOrigin(t *testing.T, origin, loc string) {
	t.Helper()
	base, err := url.Parse(origin + "/auth/signin")
	require.NoError(t, err)
	u, err := url.Parse(loc)
	require.NoError(t, err, loc)
	abs := base.ResolveReference(u)
	assert.Equal(t, base.Host, abs.Host, "Location %q leaves the origin", loc)
	assert.Equal(t, base.Scheme, abs.Scheme, "Location %q leaves the origin", loc)
	assert.False(t, strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, `/\`), "Location %q is a network-path reference", loc)
}

// siAssertCookie checks the attributes every cookie of ours carries.
func siAssertCookie(t *testing.T, c *http.Cookie, secure bool) {
	t.Helper()
	require.NotNil(t, c)
	assert.True(t, c.HttpOnly, "%s is HttpOnly", c.Name)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite, "%s is SameSite=Lax", c.Name)
	assert.Equal(t, "/", c.Path)
	assert.Empty(t, c.Domain, "host-only")
	assert.Equal(t, secure, c.Secure, "%s Secure", c.Name)
}

func TestSignInCookiesAreHttpOnlyAndLax(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	in.addUser(t, tenantA, "tech@example.com", mobileauth.UserInternal)

	r := get(t, browser(t), in.URL+"/auth/signin/dev")
	flow := siSetCookie(r, "alga_mobile_flow")
	siAssertCookie(t, flow, false)
	assert.Equal(t, 600, flow.MaxAge, "the flow cookie lives ten minutes")
	assert.NotContains(t, flow.Value, "tech@example.com")

	r = signIn(t, browser(t), in.URL, "", "tech@example.com")
	sess := siSetCookie(r, "alga_mobile_session")
	siAssertCookie(t, sess, false)
	assert.Equal(t, 12*60*60, sess.MaxAge, "ALGA_MOBILE_SESSION_TTL_SEC default")
	assert.GreaterOrEqual(t, len(sess.Value), 22, "≥128 bits")
	if cleared := siSetCookie(r, "alga_mobile_flow"); assert.NotNil(t, cleared, "the callback clears the flow cookie") {
		assert.Negative(t, cleared.MaxAge)
	}
}

// TestSignInCookiesOnHTTPSOrigin serves an https NEXTAUTH_URL over plain
// loopback HTTP (the TLS would end at the proxy): the cookies must then be
// Secure with the __Host- prefix, and only that name is read back.
func TestSignInCookiesOnHTTPSOrigin(t *testing.T) {
	idp := siStartIdP(t)
	addr := freeAddr(t)
	env := idp.env(baseEnv(t, addr))
	env["NEXTAUTH_URL"] = "https://" + addr
	env["ALGA_MOBILE_DEV_IDP"] = "false"
	in := start(t, env)
	require.Equal(t, "https://"+addr, in.URL)
	in.addUser(t, tenantA, siValidEmail, mobileauth.UserInternal)
	plain := "http://" + addr
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	r := get(t, c, plain+"/auth/signin/google")
	require.Equal(t, http.StatusFound, r.StatusCode)
	flow := siSetCookie(r, "__Host-alga_mobile_flow")
	siAssertCookie(t, flow, true)
	assert.Nil(t, siSetCookie(r, "alga_mobile_flow"))

	r = get(t, c, r.Header.Get("Location"))
	require.Equal(t, http.StatusFound, r.StatusCode)
	cb, err := url.Parse(r.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "https://"+addr+"/api/auth/callback/google", cb.Scheme+"://"+cb.Host+cb.Path, "redirect_uri is under NEXTAUTH_URL")
	cb.Scheme = "http"
	r = get(t, c, cb.String(), "Cookie", flow.Name+"="+flow.Value)
	require.Equal(t, http.StatusFound, r.StatusCode)
	sess := siSetCookie(r, "__Host-alga_mobile_session")
	siAssertCookie(t, sess, true)
	assert.Nil(t, siSetCookie(r, "alga_mobile_session"))

	h := plain + siHandoffPath("https-state")
	r = get(t, c, h, "Cookie", "alga_mobile_session="+sess.Value)
	assert.True(t, strings.HasPrefix(r.Header.Get("Location"), "/auth/signin?callbackUrl="), "the unprefixed name is not read on https")
	r = get(t, c, h, "Cookie", sess.Name+"="+sess.Value)
	assert.True(t, strings.HasPrefix(r.Header.Get("Location"), "alga://auth/callback?ott="), r.Header.Get("Location"))
}

// siPost sends an empty form POST with extra headers.
func siPost(t *testing.T, c *http.Client, u string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(""))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// siOTT runs a handoff with c and returns the OTT of its deep link.
func siOTT(t *testing.T, c *http.Client, in *instance, state string) string {
	t.Helper()
	r := get(t, c, in.URL+siHandoffPath(state))
	require.Equal(t, http.StatusFound, r.StatusCode)
	deep, err := url.Parse(r.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "alga", deep.Scheme, "handoff issued an OTT: %s", r.Header.Get("Location"))
	require.NotEmpty(t, deep.Query().Get("ott"))
	return deep.Query().Get("ott")
}

func TestSignOutEndsTheSessionAndItsOTTs(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	in.addUser(t, tenantA, "tech@example.com", mobileauth.UserInternal)
	c := siSignedIn(t, in, "tech@example.com")
	base, _ := url.Parse(in.URL)
	var old string
	for _, ck := range c.Jar.Cookies(base) {
		if ck.Name == "alga_mobile_session" {
			old = ck.Value
		}
	}
	require.NotEmpty(t, old)
	before := siOTT(t, c, in, "before")

	t.Run("cross-origin posts are refused", func(t *testing.T) {
		for _, hdr := range [][]string{
			{"Origin", "https://evil.example"},
			{"Origin", "null"}, // without Sec-Fetch-Site, null is anyone's (a sandboxed frame)
			{"Origin", in.URL + ".evil.example"},
			{"Origin", strings.Replace(in.URL, "http://", "https://", 1)},
			{"Sec-Fetch-Site", "cross-site", "Origin", "null"},
			{"Sec-Fetch-Site", "cross-site", "Origin", in.URL},
			{"Sec-Fetch-Site", "same-site", "Origin", "http://sibling.localhost"},
			{"Sec-Fetch-Site", "none"},
		} {
			r := siPost(t, c, in.URL+"/auth/signout", hdr...)
			assert.Equal(t, http.StatusForbidden, r.StatusCode, "%q", hdr)
			assert.Nil(t, siSetCookie(r, "alga_mobile_session"), "%q", hdr)
		}
		assert.Equal(t, http.StatusMethodNotAllowed, get(t, c, in.URL+"/auth/signout").StatusCode, "a GET (an <img>) cannot sign out")
		siOTT(t, c, in, "still-signed-in")
	})

	// What a browser sends from our page: its Referrer-Policy no-referrer
	// turns the Origin of a same-origin form post into "null".
	r := siPost(t, c, in.URL+"/auth/signout", "Sec-Fetch-Site", "same-origin", "Origin", "null")
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	assert.Equal(t, "/auth/signin", r.Header.Get("Location"))
	if cleared := siSetCookie(r, "alga_mobile_session"); assert.NotNil(t, cleared) {
		assert.Negative(t, cleared.MaxAge)
	}
	var revoked int
	require.NoError(t, in.App.Store.DB().QueryRowContext(t.Context(), "SELECT COUNT(*) FROM web_sessions WHERE revoked_at IS NOT NULL").Scan(&revoked))
	assert.Equal(t, 1, revoked)

	resp, body := postJSON(t, in.URL+"/api/v1/mobile/auth/exchange", map[string]any{"ott": before, "state": "before"})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "an OTT of a signed-out session is refused")
	assert.Equal(t, "UNAUTHORIZED", body["error"].(map[string]any)["code"])

	r = get(t, c, in.URL+siHandoffPath("after"))
	assert.Equal(t, "/auth/signin?"+url.Values{"callbackUrl": {in.URL + siHandoffPath("after")}}.Encode(), r.Header.Get("Location"))
	r = get(t, browser(t), in.URL+siHandoffPath("after"), "Cookie", "alga_mobile_session="+old)
	assert.True(t, strings.HasPrefix(r.Header.Get("Location"), "/auth/signin?callbackUrl="), "a replayed cookie is dead too")

	for name, hdr := range map[string][]string{
		"our Origin, no Sec-Fetch-Site": {"Origin", in.URL},
		"no Origin, no Sec-Fetch-Site":  nil,
	} {
		t.Run(name+" signs out", func(t *testing.T) {
			c := siSignedIn(t, in, "tech@example.com")
			r := siPost(t, c, in.URL+"/auth/signout", hdr...)
			assert.Equal(t, http.StatusSeeOther, r.StatusCode)
			r = get(t, c, in.URL+siHandoffPath("x"))
			assert.True(t, strings.HasPrefix(r.Header.Get("Location"), "/auth/signin?callbackUrl="))
		})
	}
}
