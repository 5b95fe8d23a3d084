package e2e

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
)

// apKeyShape is an access token in appliance mode: an AlgaPSA API key, 32
// random bytes as 64 lower-case hex characters (SPEC §8.4).
var apKeyShape = regexp.MustCompile(`^[0-9a-f]{64}$`)

// apFamilyKeys are the api_keys rows of the family that key belongs to.
func apFamilyKeys(t *testing.T, db *algapsatest.DB, key string) []algapsatest.APIKeyRow {
	t.Helper()
	rows := db.APIKeyRows(t, "api_key = $1", algapsatest.SHA256Hex(key))
	require.Len(t, rows, 1, "one api_keys row holds the key's hash")
	fam, _ := rows[0].Metadata["familyId"].(string)
	require.NotEmpty(t, fam, "metadata names the family: %v", rows[0].Metadata)
	return db.APIKeyRows(t, "metadata->>'familyId' = $1", fam)
}

// apActive counts the active rows.
func apActive(rows []algapsatest.APIKeyRow) int {
	n := 0
	for _, r := range rows {
		if r.Active {
			n++
		}
	}
	return n
}

// TestApplianceChromiumSignInThroughNginxToAnAlgaPSAKey is SPEC §1 on an
// appliance (§8): the app's sign-in URL in real Chromium, through the
// shipped nginx file, lands on the web app's sign-in (the stub, which sets
// its Auth.js cookie), comes back to the hand-off and ends on the alga://
// deep link; the exchanged access token is an AlgaPSA API key that AlgaPSA's
// REST API (the stub, through nginx) accepts; refresh replaces it, revoke
// ends it.
func TestApplianceChromiumSignInThroughNginxToAnAlgaPSAKey(t *testing.T) {
	root, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ctx := siChromium(t, root)
	st := apStart(t)
	u := st.db.AddUser(t, algapsatest.User{Email: "tech@example.com", FirstName: "Terry", LastName: "Tech"})
	st.web.signInAs(u)

	_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
	require.NoError(t, err)
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	// A page of the appliance first; then the app's URL, as the in-app
	// browser opens it (the navigation ends on a scheme Chromium cannot
	// load, so it is started from script rather than awaited).
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(st.URL+"/msp/dashboard")))
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool]("location.assign("+jsString(st.apSignInURL("st-appliance"))+"), true"))
	require.NoError(t, err)
	deep := siAwaitDeepLink(t, ctx, requests)
	assert.Equal(t, "alga", deep.Scheme)
	assert.Equal(t, "auth", deep.Host)
	assert.Equal(t, "/callback", deep.Path)
	assert.Equal(t, "st-appliance", deep.Query().Get("state"))
	ott := deep.Query().Get("ott")
	require.GreaterOrEqual(t, len(ott), 22)
	require.Len(t, st.web.signIns(), 1, "one sign-in on the web app, no second one on the sidecar")
	assert.Equal(t, 1, st.web.count("/auth/signin"))

	resp, ex := ngPostJSON(t, st.URL+tkExchangePath, map[string]any{"ott": ott, "state": "st-appliance",
		"device": map[string]string{"platform": "ios", "appVersion": "1.0", "deviceId": "phone-1"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, "exchange through nginx: %v", ex)
	assert.Empty(t, resp.Header.Get("X-Stub"))
	key, _ := ex["accessToken"].(string)
	refresh, _ := ex["refreshToken"].(string)
	assert.Regexp(t, apKeyShape, key, "the access token is an AlgaPSA API key, not a JWT")
	require.NotEmpty(t, refresh)
	assert.Equal(t, u.TenantID, ex["tenantId"])
	assert.EqualValues(t, 900, ex["expiresInSec"])
	assert.Equal(t, map[string]any{"id": u.ID, "email": "tech@example.com", "name": "Terry Tech"}, ex["user"])

	rows := apFamilyKeys(t, st.db, key)
	require.Len(t, rows, 1)
	row := rows[0]
	assert.Equal(t, algapsatest.SHA256Hex(key), row.APIKey)
	assert.Equal(t, u.TenantID, row.TenantID)
	assert.Equal(t, u.ID, row.UserID)
	require.NotNil(t, row.Description)
	assert.Equal(t, "Mobile session", *row.Description)
	assert.Equal(t, "mobile_session", row.Purpose)
	assert.True(t, row.Active)
	assert.Zero(t, row.UsageCount)
	assert.Nil(t, row.UsageLimit)
	require.NotNil(t, row.ExpiresAt)
	assert.WithinDuration(t, st.db.Now(t).Add(900*time.Second), *row.ExpiresAt, 30*time.Second)
	assert.Contains(t, row.Metadata, "device")

	status, body := apTickets(t, st.URL, key, u.TenantID)
	require.Equal(t, http.StatusOK, status, "AlgaPSA's REST API accepts the key: %v", body)
	assert.Equal(t, u.ID, body["userId"])
	assert.Equal(t, u.TenantID, body["tenantId"])
	v := get(t, http.DefaultClient, st.URL+tkVerifyPath, "x-api-key", key)
	assert.Equal(t, http.StatusOK, v.StatusCode, "/verify accepts the key")
	assert.Equal(t, u.ID, v.Header.Get("X-Alga-User-Id"))
	assert.Equal(t, u.TenantID, v.Header.Get("X-Alga-Tenant-Id"))

	resp, rf := ngPostJSON(t, st.URL+tkRefreshPath, map[string]any{"refreshToken": refresh})
	require.Equal(t, http.StatusOK, resp.StatusCode, "refresh through nginx: %v", rf)
	key2, _ := rf["accessToken"].(string)
	refresh2, _ := rf["refreshToken"].(string)
	assert.Regexp(t, apKeyShape, key2)
	assert.NotEqual(t, key, key2)
	assert.NotEqual(t, refresh, refresh2)
	status, _ = apTickets(t, st.URL, key, u.TenantID)
	assert.Equal(t, http.StatusUnauthorized, status, "the replaced key is refused at once")
	status, body = apTickets(t, st.URL, key2, u.TenantID)
	assert.Equal(t, http.StatusOK, status, "the new key works: %v", body)
	rows = apFamilyKeys(t, st.db, key2)
	assert.Len(t, rows, 2)
	assert.Equal(t, 1, apActive(rows), "one active key per family")

	resp, rv := ngPostJSON(t, st.URL+tkRevokePath, map[string]any{"refreshToken": refresh2})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, map[string]any{"ok": true}, rv)
	for _, k := range []string{key, key2} {
		status, _ = apTickets(t, st.URL, k, u.TenantID)
		assert.Equal(t, http.StatusUnauthorized, status, "no key of the family works after revoke")
		v := get(t, http.DefaultClient, st.URL+tkVerifyPath, "x-api-key", k)
		assert.Equal(t, http.StatusUnauthorized, v.StatusCode)
	}
	assert.Zero(t, apActive(apFamilyKeys(t, st.db, key2)))
	resp, _ = ngPostJSON(t, st.URL+tkRefreshPath, map[string]any{"refreshToken": refresh2})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the revoked refresh token is dead")
}

// jsString quotes s as a JavaScript string literal (URLs only: no quotes
// or backslashes to escape beyond these).
func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// TestApplianceWebSignOutBetweenHandOffAndExchange: the browser walks the
// web app's sign-in and the hand-off through nginx; the user then signs out
// of the web app (its sessions row revoked) before the app exchanges the
// OTT, which is refused (SPEC §8.3).
func TestApplianceWebSignOutBetweenHandOffAndExchange(t *testing.T) {
	st := apStart(t)
	u := st.db.AddUser(t, algapsatest.User{Email: "leaver@example.com", FirstName: "Lee", LastName: "Ver"})
	st.web.signInAs(u)
	c := browser(t)

	ott := func(state string) string {
		t.Helper()
		r := get(t, c, st.apSignInURL(state))
		require.Equal(t, http.StatusFound, r.StatusCode)
		require.Equal(t, "web-app", r.Header.Get("X-Stub"))
		r = get(t, c, r.Header.Get("Location"))
		require.Equal(t, http.StatusFound, r.StatusCode)
		deep, err := url.Parse(r.Header.Get("Location"))
		require.NoError(t, err)
		require.Equal(t, "alga", deep.Scheme, "the hand-off answers with the deep link: %s", deep)
		require.Equal(t, state, deep.Query().Get("state"))
		return deep.Query().Get("ott")
	}

	t.Run("control: signed in, the exchange succeeds", func(t *testing.T) {
		resp, ex := ngPostJSON(t, st.URL+tkExchangePath, map[string]any{"ott": ott("st-control"), "state": "st-control"})
		require.Equal(t, http.StatusOK, resp.StatusCode, "%v", ex)
	})
	t.Run("signed out of the web app before the exchange", func(t *testing.T) {
		o := ott("st-signout")
		keysBefore := len(st.db.APIKeyRows(t, "tenant = $1 AND user_id = $2", u.TenantID, u.ID))
		ins := st.web.signIns()
		st.db.RevokeSession(t, u.TenantID, ins[len(ins)-1].SessionID)
		resp, ex := ngPostJSON(t, st.URL+tkExchangePath, map[string]any{"ott": o, "state": "st-signout"})
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%v", ex)
		e, _ := ex["error"].(map[string]any)
		assert.Equal(t, "UNAUTHORIZED", e["code"])
		assert.Len(t, st.db.APIKeyRows(t, "tenant = $1 AND user_id = $2", u.TenantID, u.ID), keysBefore, "no key minted")
	})
}
