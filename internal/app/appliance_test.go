package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/authjs"
	"github.com/nineminds/alga-mobile-auth/internal/authjs/authjstest"
)

const testNextAuthSecret = "appliance-test-nextauth-secret-0123456789"

// applianceApp opens the App in appliance mode against psaURL.
func applianceApp(t *testing.T, psaURL string) *App {
	t.Helper()
	t.Setenv("ALGA_PSA_DATABASE_URL", psaURL)
	t.Setenv("NEXTAUTH_SECRET", testNextAuthSecret)
	cfg := testConfig(t, filepath.Join(t.TempDir(), "a.db"))
	require.True(t, cfg.ApplianceMode())
	a, err := Open(context.Background(), cfg, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, a.Close()) })
	return a
}

func get(t *testing.T, h http.Handler, path string, cookies map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Host = strings.TrimPrefix(os.Getenv("NEXTAUTH_URL"), "http://")
	for k, v := range cookies {
		r.AddCookie(&http.Cookie{Name: k, Value: v}) //nolint:gosec // G124: a request's cookie carries no attributes; this is the browser's side
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestApplianceReadyzNeedsAlgaPSADatabase: /readyz is 503 while AlgaPSA's
// database is unreachable (SPEC §8.1), whatever the own store says.
func TestApplianceReadyzNeedsAlgaPSADatabase(t *testing.T) {
	a := applianceApp(t, "postgres://app_user:pw@127.0.0.1:1/server?connect_timeout=1")
	res := get(t, a.Handler(), "/readyz", nil)
	assert.Equal(t, http.StatusServiceUnavailable, res.Code)
	assert.Contains(t, res.Body.String(), "AlgaPSA's database is not reachable", "names which database, not the sidecar's own store")
	assert.Equal(t, http.StatusOK, get(t, a.Handler(), "/healthz", nil).Code)
}

// TestApplianceWiring follows one phone through the wired App: the web
// app's cookie at the hand-off, the exchange answering an AlgaPSA API key
// that AlgaPSA's own check accepts, /verify accepting it, and /readyz.
func TestApplianceWiring(t *testing.T) {
	psa := algapsatest.New(t)
	a := applianceApp(t, psa.AppURL)
	h := a.Handler()
	assert.Equal(t, http.StatusOK, get(t, h, "/readyz", nil).Code)

	u := psa.AddUser(t, algapsatest.User{Email: "tech@example.com", FirstName: "Tess", LastName: "Tech"})
	sid := psa.AddSession(t, u.TenantID, u.ID, time.Hour)
	name := authjs.CookieName(a.Config.Origin())
	cookies, err := authjstest.Cookies(authjstest.Token{Secret: testNextAuthSecret, CookieName: name, Now: time.Now(),
		Claims: map[string]any{"id": u.ID, "sub": u.ID, "tenant": u.TenantID, "user_type": "internal",
			"email": u.Email, "name": "Tess Tech", "session_id": sid}})
	require.NoError(t, err)

	w := get(t, h, "/auth/mobile/handoff?redirect=alga://auth/callback&state=st1", cookies)
	require.Equal(t, http.StatusFound, w.Code)
	loc, err := url.Parse(w.Header().Get("Location"))
	require.NoError(t, err)
	ott := loc.Query().Get("ott")
	require.NotEmpty(t, ott, "the web app's session is accepted: %s", loc)

	body := `{"ott":"` + ott + `","state":"st1","device":{"platform":"ios"}}`
	r := httptest.NewRequest(http.MethodPost, "/api/v1/mobile/auth/exchange", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	rw := httptest.NewRecorder()
	h.ServeHTTP(rw, r)
	require.Equal(t, http.StatusOK, rw.Code, rw.Body.String())
	var res struct {
		AccessToken, RefreshToken, TenantID string
		User                                struct{ ID, Email, Name string }
	}
	require.NoError(t, json.Unmarshal(rw.Body.Bytes(), &res))
	assert.Len(t, res.AccessToken, 64, "the access token is an AlgaPSA API key")
	assert.Equal(t, u.TenantID, res.TenantID)
	assert.Equal(t, u.ID, res.User.ID)
	id, err := psa.CheckAPIKey(context.Background(), res.AccessToken, res.TenantID)
	require.NoError(t, err, "AlgaPSA's API accepts the key")
	assert.Equal(t, u.ID, id.UserID)

	vr := httptest.NewRequest(http.MethodGet, "/api/v1/mobile/auth/verify", nil)
	vr.Header.Set("x-api-key", res.AccessToken)
	vw := httptest.NewRecorder()
	h.ServeHTTP(vw, vr)
	require.Equal(t, http.StatusOK, vw.Code)
	assert.Equal(t, u.ID, vw.Header().Get("X-Alga-User-Id"))
	assert.Equal(t, u.TenantID, vw.Header().Get("X-Alga-Tenant-Id"))
	assert.Equal(t, u.Email, vw.Header().Get("X-Alga-User-Email"))
	assert.NotEmpty(t, vw.Header().Get("X-Alga-Session-Id"))
}

// TestApplianceRefusedLoginIsServiceUnavailable: when AlgaPSA's database
// refuses the service's login (a wrong password: 28P01; a role that does
// not exist: 28000), every endpoint that needs it answers the same 503
// SERVICE_UNAVAILABLE with Retry-After, never 500 INTERNAL_ERROR.
func TestApplianceRefusedLoginIsServiceUnavailable(t *testing.T) {
	logins := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"wrong password", func(t *testing.T) string { return algapsatest.WrongPasswordURL(t) }},
		{"role that does not exist", func(t *testing.T) string { return algapsatest.UnknownRoleURL(t) }},
	}
	const unknownToken = "an-unknown-refresh-token-0123456789abcdef0123456789"
	requests := []struct {
		name, method, path, body string
		header                   map[string]string
	}{
		{"refresh", http.MethodPost, "/api/v1/mobile/auth/refresh", `{"refreshToken":"` + unknownToken + `"}`, nil},
		{"revoke", http.MethodPost, "/api/v1/mobile/auth/revoke", `{"refreshToken":"` + unknownToken + `"}`, nil},
		{"verify", http.MethodGet, "/api/v1/mobile/auth/verify", "",
			map[string]string{"x-api-key": strings.Repeat("ab", 32)}},
		{"readyz", http.MethodGet, "/readyz", "", nil},
	}
	for _, login := range logins {
		t.Run(login.name, func(t *testing.T) {
			h := applianceApp(t, login.url(t)).Handler()
			for _, rq := range requests {
				t.Run(rq.name, func(t *testing.T) {
					r := httptest.NewRequest(rq.method, rq.path, strings.NewReader(rq.body))
					r.Host = strings.TrimPrefix(os.Getenv("NEXTAUTH_URL"), "http://")
					if rq.body != "" {
						r.Header.Set("Content-Type", "application/json")
					}
					for k, v := range rq.header {
						r.Header.Set(k, v)
					}
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					assert.Equal(t, http.StatusServiceUnavailable, w.Code, w.Body.String())
					assert.Contains(t, w.Body.String(), `"code":"SERVICE_UNAVAILABLE"`)
					assert.NotEmpty(t, w.Header().Get("Retry-After"))
				})
			}
		})
	}
}
