package e2e

import (
	"bytes"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

const tenantA = "11111111-1111-4111-8111-111111111111"

func postJSON(t *testing.T, u string, body any) (*http.Response, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

// TestWholeFlowOverHTTP walks SPEC §1 end to end with a cookie jar:
// capabilities → sign-in → provider → callback → handoff → deep link →
// exchange → verify → refresh → revoke → verify fails.
func TestWholeFlowOverHTTP(t *testing.T) {
	addr := freeAddr(t)
	in := start(t, baseEnv(t, addr))
	in.addUser(t, tenantA, "tech@example.com", mobileauth.UserInternal)

	resp := get(t, http.DefaultClient, in.URL+"/api/v1/mobile/auth/capabilities")
	var caps map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&caps))
	resp.Body.Close()
	assert.Equal(t, true, caps["enabled"])
	assert.IsType(t, map[string]any{}, caps["providers"])

	c := browser(t)
	handoff := in.URL + "/auth/mobile/handoff?" + url.Values{"redirect": {"alga://auth/callback"}, "state": {"st-1"}}.Encode()
	// Not signed in: the handoff sends the browser to sign in first.
	r := get(t, c, handoff)
	require.Equal(t, http.StatusFound, r.StatusCode)
	signinURL, err := url.Parse(in.URL + r.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "/auth/signin", signinURL.Path)
	assert.Equal(t, handoff, signinURL.Query().Get("callbackUrl"))

	r = signIn(t, c, in.URL, handoff, "tech@example.com")
	require.Equal(t, http.StatusFound, r.StatusCode, "callback signs in")
	assert.Equal(t, "/auth/mobile/handoff?redirect=alga%3A%2F%2Fauth%2Fcallback&state=st-1", r.Header.Get("Location"))

	r = get(t, c, in.URL+r.Header.Get("Location"))
	require.Equal(t, http.StatusFound, r.StatusCode)
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	deep, err := url.Parse(r.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "alga", deep.Scheme)
	assert.Equal(t, "auth", deep.Host)
	assert.Equal(t, "/callback", deep.Path)
	assert.Equal(t, "st-1", deep.Query().Get("state"))
	ott := deep.Query().Get("ott")
	require.GreaterOrEqual(t, len(ott), 22, "≥128 bits base64url")

	resp, ex := postJSON(t, in.URL+"/api/v1/mobile/auth/exchange", map[string]any{"ott": ott, "state": "st-1",
		"device": map[string]string{"platform": "ios", "appVersion": "1.0"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, "exchange: %v", ex)
	access, _ := ex["accessToken"].(string)
	refresh, _ := ex["refreshToken"].(string)
	require.NotEmpty(t, access)
	require.NotEmpty(t, refresh)
	assert.Equal(t, float64(900), ex["expiresInSec"])
	assert.Equal(t, tenantA, ex["tenantId"])
	assert.Equal(t, map[string]any{"id": "u-tech-example.com", "email": "tech@example.com", "name": "Test User"}, ex["user"])

	// The OTT is single-use.
	resp, _ = postJSON(t, in.URL+"/api/v1/mobile/auth/exchange", map[string]any{"ott": ott, "state": "st-1"})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	v := get(t, http.DefaultClient, in.URL+"/api/v1/mobile/auth/verify", "Authorization", "Bearer "+access)
	require.Equal(t, http.StatusOK, v.StatusCode)
	assert.Equal(t, "u-tech-example.com", v.Header.Get("X-Alga-User-Id"))
	assert.Equal(t, tenantA, v.Header.Get("X-Alga-Tenant-Id"))
	assert.Equal(t, "tech@example.com", v.Header.Get("X-Alga-User-Email"))
	assert.NotEmpty(t, v.Header.Get("X-Alga-Session-Id"))
	v = get(t, http.DefaultClient, in.URL+"/api/v1/mobile/auth/verify", "x-api-key", access)
	assert.Equal(t, http.StatusOK, v.StatusCode, "x-api-key is accepted too")

	resp, rf := postJSON(t, in.URL+"/api/v1/mobile/auth/refresh", map[string]any{"refreshToken": refresh})
	require.Equal(t, http.StatusOK, resp.StatusCode, "refresh: %v", rf)
	newRefresh, _ := rf["refreshToken"].(string)
	newAccess, _ := rf["accessToken"].(string)
	require.NotEmpty(t, newRefresh)
	assert.NotEqual(t, refresh, newRefresh)

	resp, rv := postJSON(t, in.URL+"/api/v1/mobile/auth/revoke", map[string]any{"refreshToken": newRefresh})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, map[string]any{"ok": true}, rv)

	v = get(t, http.DefaultClient, in.URL+"/api/v1/mobile/auth/verify", "Authorization", "Bearer "+newAccess)
	assert.Equal(t, http.StatusUnauthorized, v.StatusCode, "revoked family fails verify at once")
	assert.Equal(t, `Bearer realm="alga-mobile", error="invalid_token"`, v.Header.Get("WWW-Authenticate"))
	resp, _ = postJSON(t, in.URL+"/api/v1/mobile/auth/refresh", map[string]any{"refreshToken": newRefresh})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// TestDemoPageShowsTheDeepLink covers `make run`'s page: after sign-in it
// shows the alga:// link from the real hand-off, and the curl exchanging it
// works.
func TestDemoPageShowsTheDeepLink(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	in.addUser(t, tenantA, "demo@example.com", mobileauth.UserInternal)
	c := browser(t)
	r := get(t, c, in.URL+"/demo/handoff")
	require.Equal(t, http.StatusFound, r.StatusCode)
	loc, err := url.Parse(r.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "/auth/signin", loc.Path)
	r = signIn(t, c, in.URL, loc.Query().Get("callbackUrl"), "demo@example.com")
	require.Equal(t, http.StatusFound, r.StatusCode)
	r = get(t, c, in.URL+r.Header.Get("Location"))
	require.Equal(t, http.StatusOK, r.StatusCode)
	body := htmlUnescape(readAll(t, r))
	m := regexp.MustCompile(`alga://auth/callback\?ott=([A-Za-z0-9_-]+)&amp;state=demo-state|alga://auth/callback\?ott=([A-Za-z0-9_-]+)&state=demo-state`).FindStringSubmatch(body)
	require.NotNil(t, m, body)
	ott := m[1] + m[2]
	assert.Contains(t, body, "curl -s "+in.URL+"/api/v1/mobile/auth/exchange")
	resp, ex := postJSON(t, in.URL+"/api/v1/mobile/auth/exchange", map[string]any{"ott": ott, "state": "demo-state"})
	assert.Equal(t, http.StatusOK, resp.StatusCode, "%v", ex)
}

// Issue 11 item 8: the demo page's curl command must not let a chosen
// state break out of its shell quoting. A POSIX shell parses the command
// shown; it must yield exactly curl's arguments, with the state intact in
// the JSON body.
func TestDemoPageCurlQuotesTheState(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	in := start(t, baseEnv(t, freeAddr(t)))
	in.addUser(t, tenantA, "demo@example.com", mobileauth.UserInternal)
	c := browser(t)
	const state = `x'; echo INJECTED; echo '"$(id)` + "`id`\\"
	r := get(t, c, in.URL+"/demo/handoff?"+url.Values{"state": {state}}.Encode())
	require.Equal(t, http.StatusFound, r.StatusCode)
	loc, err := url.Parse(r.Header.Get("Location"))
	require.NoError(t, err)
	r = signIn(t, c, in.URL, loc.Query().Get("callbackUrl"), "demo@example.com")
	require.Equal(t, http.StatusFound, r.StatusCode)
	r = get(t, c, in.URL+r.Header.Get("Location"))
	require.Equal(t, http.StatusOK, r.StatusCode)
	body := htmlUnescape(readAll(t, r))
	m := regexp.MustCompile(`<code>curl (.*?)</code>`).FindStringSubmatch(body)
	require.NotNil(t, m, body)

	out, err := exec.CommandContext(t.Context(), sh, "-c", "set -- "+html.UnescapeString(m[1])+`; printf '%s\0' "$@"`).Output() //nolint:gosec // G204: sh runs the command line the demo page shows, which is what the test checks
	require.NoError(t, err)
	args := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	require.Len(t, args, 6, "%q", args)
	assert.Equal(t, []string{"-s", in.URL + "/api/v1/mobile/auth/exchange", "-H", "content-type: application/json", "-d"}, args[:5])
	var sent struct{ OTT, State string }
	require.NoError(t, json.Unmarshal([]byte(args[5]), &sent), args[5])
	assert.Equal(t, state, sent.State)
	assert.NotEmpty(t, sent.OTT)
}
