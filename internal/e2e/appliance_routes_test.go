package e2e

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/authjs"
)

// TestApplianceNginxSendsTheAppToTheServiceAndTheWebApp runs the shipped
// appliance nginx file in front of the real service (appliance mode) and the
// stub web app: the sidecar's paths reach the service, the web app's sign-in,
// its REST API and its own /api/v1/mobile/... routes reach the stub, whose
// sign-in sets a session cookie that Auth.js' format reader accepts under the
// service's NEXTAUTH_SECRET and whose sessions row is in AlgaPSA's database.
func TestApplianceNginxSendsTheAppToTheServiceAndTheWebApp(t *testing.T) {
	st := apStart(t)
	c := browser(t)

	for _, tc := range []struct {
		path   string
		status int
		body   string // a fragment of the service's answer
	}{
		{"/api/v1/mobile/auth/capabilities", http.StatusOK, `"providers"`},
		{"/auth/mobile/handoff", http.StatusFound, ""},
		{"/mobile/connect", http.StatusOK, "/api/v1/mobile/connect-qr.svg"},
		{"/api/v1/mobile/connect-qr.svg", http.StatusOK, "<svg"},
	} {
		t.Run("service "+tc.path, func(t *testing.T) {
			resp := get(t, c, st.URL+tc.path, "X-Correlation-Id", "ap-route-check")
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Equal(t, "ap-route-check", resp.Header.Get("X-Correlation-Id"), "the service echoes it; the stub never does")
			assert.Empty(t, resp.Header.Get("X-Stub"))
			assert.Contains(t, readAll(t, resp), tc.body)
			assert.Zero(t, st.web.count(tc.path), "the web app saw nothing")
		})
	}
	t.Run("the hand-off without a session sends the browser to the web app's sign-in", func(t *testing.T) {
		handoff := st.apHandoffURL("ap-no-session")
		resp := get(t, c, handoff)
		require.Equal(t, http.StatusFound, resp.StatusCode)
		loc, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		assert.Equal(t, "/auth/signin", loc.Path)
		assert.Equal(t, handoff, loc.Query().Get("callbackUrl"))
	})

	for _, tc := range []struct{ path, body string }{
		{"/auth/signin", "Sign in to AlgaPSA"},
		{"/api/v1/mobile/me/capabilities", `"source":"web-app"`},
		{"/api/auth/session", "web app: /api/auth/session"},
	} {
		t.Run("web app "+tc.path, func(t *testing.T) {
			before := st.web.count(tc.path)
			resp := get(t, c, st.URL+tc.path, "X-Correlation-Id", "ap-route-check")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "web-app", resp.Header.Get("X-Stub"))
			assert.Empty(t, resp.Header.Get("X-Correlation-Id"), "not the service's answer")
			assert.Contains(t, readAll(t, resp), tc.body)
			assert.Equal(t, before+1, st.web.count(tc.path))
		})
	}

	u := st.db.AddUser(t, algapsatest.User{Email: "tech@example.com", FirstName: "Terry", LastName: "Tech"})
	t.Run("the web app's REST API checks AlgaPSA API keys", func(t *testing.T) {
		_, key := st.db.AddAPIKey(t, algapsatest.APIKey{TenantID: u.TenantID, UserID: u.ID, Description: "web-created key"})
		status, body := apTickets(t, st.URL, key, u.TenantID)
		assert.Equal(t, http.StatusOK, status, "%v", body)
		assert.Equal(t, u.ID, body["userId"])
		status, _ = apTickets(t, st.URL, key, st.db.AddTenant(t, nil))
		assert.Equal(t, http.StatusUnauthorized, status, "another tenant in x-tenant-id")
		status, _ = apTickets(t, st.URL, "", u.TenantID)
		assert.Equal(t, http.StatusUnauthorized, status, "no key")
	})

	t.Run("the web app's sign-in sets a real Auth.js session and returns to the hand-off", func(t *testing.T) {
		st.web.signInAs(u)
		resp := get(t, c, st.apSignInURL("ap-cookie"))
		require.Equal(t, http.StatusFound, resp.StatusCode, readAll(t, resp))
		assert.Equal(t, "web-app", resp.Header.Get("X-Stub"))
		assert.Equal(t, st.apHandoffURL("ap-cookie"), resp.Header.Get("Location"))

		ins := st.web.signIns()
		require.Len(t, ins, 1)
		set := map[string]string{}
		for _, ck := range resp.Cookies() {
			assert.True(t, ck.HttpOnly, ck.Name)
			assert.Equal(t, "/", ck.Path, ck.Name)
			set[ck.Name] = ck.Value
		}
		assert.Equal(t, ins[0].Cookies, set, "the response carries the minted cookie(s)")
		dec, err := authjs.NewDecoder(apNextAuthSecret, authjs.CookieName(st.URL), time.Now)
		require.NoError(t, err)
		assert.Equal(t, authjs.PlainCookieName, dec.CookieName(), "NEXTAUTH_URL is plain http")
		sess, err := dec.Decode(set)
		require.NoError(t, err)
		assert.Equal(t, u.ID, sess.UserID)
		assert.Equal(t, u.TenantID, sess.Tenant)
		assert.Equal(t, "internal", sess.UserType)
		assert.Equal(t, "tech@example.com", sess.Email)
		assert.Equal(t, "Terry Tech", sess.Name)
		assert.Equal(t, ins[0].SessionID, sess.SessionID)

		var userID string
		var live bool
		require.NoError(t, st.db.Admin.QueryRow(context.Background(),
			"SELECT user_id::text, revoked_at IS NULL AND expires_at > now() FROM sessions WHERE tenant = $1 AND session_id = $2",
			u.TenantID, sess.SessionID).Scan(&userID, &live))
		assert.Equal(t, u.ID, userID)
		assert.True(t, live, "the sessions row is live")

		other := get(t, c, st.URL+"/auth/signin?"+url.Values{"callbackUrl": {"https://evil.example/x"}}.Encode())
		assert.Equal(t, "/", other.Header.Get("Location"), "no open redirect from the stub either")
	})
}
