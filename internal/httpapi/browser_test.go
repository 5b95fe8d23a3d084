package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sso"
)

// These tests hold, at the HTTP layer, what only the slow end-to-end
// package checked before: the callback's state check, HttpOnly cookies,
// the cross-site sign-out refusal and the generic 500 text.

// recordingWeb is fakeWeb that signs anyone in and records the calls.
type recordingWeb struct {
	fakeWeb
	mu       sync.Mutex
	signIns  []string
	signOuts int
}

func (w *recordingWeb) SignIn(_ context.Context, req authflow.SignInRequest) (authflow.SignInResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.signIns = append(w.signIns, req.Email)
	return authflow.SignInResult{SessionID: "session-1"}, nil
}

func (w *recordingWeb) SignOut(context.Context, string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.signOuts++
	return nil
}

// miniIdP is an OpenID Connect provider reduced to what one sign-in needs:
// discovery, JWKS and a token endpoint answering with an ID token for the
// nonce of the last authorization request it was told about.
type miniIdP struct {
	srv   *httptest.Server
	key   *rsa.PrivateKey
	nonce string
}

func newMiniIdP(t *testing.T) *miniIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p := &miniIdP{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": p.srv.URL, "authorization_endpoint": p.srv.URL + "/authorize",
			"token_endpoint": p.srv.URL + "/token", "jwks_uri": p.srv.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, _ *http.Request) {
		now := time.Now()
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": p.srv.URL, "aud": "client-1", "sub": "sub-1",
			"email": "alice@example.com", "email_verified": true, "nonce": p.nonce, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
		tok.Header["kid"] = "k1"
		raw, err := tok.SignedString(key)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": raw})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// browserServer is the test server with Google served by idp and web as
// the sign-in use cases.
func browserServer(t *testing.T, idp *miniIdP, web WebService) http.Handler {
	t.Helper()
	o := testOptions()
	o.Web.Service = web
	o.Web.Providers = sso.NewProviders(sso.Settings{PublicOrigin: o.Web.Origin, HTTPClient: idp.srv.Client(),
		Google: sso.ClientSettings{ClientID: "client-1", ClientSecret: "secret-1", Issuer: idp.srv.URL}})
	return newTestServer(t, o).Handler()
}

// startSignIn opens /auth/signin/google and returns the flow cookie and the
// state and nonce sent to the provider.
func startSignIn(t *testing.T, h http.Handler, idp *miniIdP) (flow *http.Cookie, state string) {
	t.Helper()
	rec := do(t, h, http.MethodGet, "/auth/signin/google?callbackUrl=/auth/mobile/handoff", nil)
	require.Equal(t, http.StatusFound, rec.Code, rec.Body.String())
	to, err := url.Parse(rec.Header().Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(to.String(), idp.srv.URL+"/authorize"), to.String())
	idp.nonce = to.Query().Get("nonce")
	cookies := rec.Result().Cookies()
	require.Len(t, cookies, 1)
	return cookies[0], to.Query().Get("state")
}

// callbackWith calls the Google callback with query q and the cookies.
func callbackWith(t *testing.T, h http.Handler, q url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, sso.CallbackPathPrefix+string(sso.Google)+"?"+q.Encode(), nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// assertBrowserOnlyCookie checks the attributes every cookie of ours has.
func assertBrowserOnlyCookie(t *testing.T, c *http.Cookie) {
	t.Helper()
	assert.True(t, strings.HasPrefix(c.Name, "__Host-"), "%s: __Host- prefix on https", c.Name)
	assert.True(t, c.HttpOnly, "%s: HttpOnly", c.Name)
	assert.True(t, c.Secure, "%s: Secure", c.Name)
	assert.Equal(t, "/", c.Path, c.Name)
	assert.Empty(t, c.Domain, c.Name)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite, c.Name)
}

func TestSignInCallbackChecksState(t *testing.T) {
	idp := newMiniIdP(t)
	web := &recordingWeb{}
	h := browserServer(t, idp, web)
	flow, state := startSignIn(t, h, idp)
	require.NotEmpty(t, state)

	cases := []struct {
		name    string
		q       url.Values
		cookies []*http.Cookie
		want    string
	}{
		{"wrong state", url.Values{"state": {state + "x"}, "code": {"c"}}, []*http.Cookie{flow}, "flow_expired"},
		{"no state", url.Values{"code": {"c"}}, []*http.Cookie{flow}, "flow_expired"},
		{"right state without the flow cookie", url.Values{"state": {state}, "code": {"c"}}, nil, "flow_expired"},
		{"right state, provider refused", url.Values{"state": {state}, "error": {"access_denied"}}, []*http.Cookie{flow}, "access_denied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := callbackWith(t, h, tc.q, tc.cookies...)
			require.Equal(t, http.StatusFound, rec.Code)
			to, err := url.Parse(rec.Header().Get("Location"))
			require.NoError(t, err)
			assert.Equal(t, "/auth/signin", to.Path)
			assert.Equal(t, tc.want, to.Query().Get("error"))
			for _, c := range rec.Result().Cookies() {
				assert.NotContains(t, c.Name, sessionCookie, "no session after a refused callback")
			}
		})
	}
	assert.Empty(t, web.signIns, "no refused callback reaches the sign-in use case")

	rec := callbackWith(t, h, url.Values{"state": {state}, "code": {"c"}}, flow)
	require.Equal(t, http.StatusFound, rec.Code, rec.Body.String())
	assert.Equal(t, "/auth/mobile/handoff", rec.Header().Get("Location"))
	assert.Equal(t, []string{"alice@example.com"}, web.signIns, "the right state signs in")
}

func TestBrowserCookiesAreHttpOnly(t *testing.T) {
	idp := newMiniIdP(t)
	h := browserServer(t, idp, &recordingWeb{})
	flow, state := startSignIn(t, h, idp)
	assertBrowserOnlyCookie(t, flow)

	rec := callbackWith(t, h, url.Values{"state": {state}, "code": {"c"}}, flow)
	require.Equal(t, http.StatusFound, rec.Code, rec.Body.String())
	cookies := rec.Result().Cookies()
	require.Len(t, cookies, 2, "the flow cookie cleared, the session cookie set")
	for _, c := range cookies {
		assertBrowserOnlyCookie(t, c)
	}
	assert.Equal(t, "__Host-"+sessionCookie, cookies[1].Name)
	assert.Equal(t, "session-1", cookies[1].Value)

	rec = do(t, h, http.MethodPost, "/auth/signout", nil, "Sec-Fetch-Site", "same-origin")
	require.Len(t, rec.Result().Cookies(), 1)
	assertBrowserOnlyCookie(t, rec.Result().Cookies()[0])
}

func TestSignOutRefusesCrossSite(t *testing.T) {
	cases := []struct {
		name    string
		headers []string
		refused bool
	}{
		{"cross-site", []string{"Sec-Fetch-Site", "cross-site"}, true},
		{"a sibling host", []string{"Sec-Fetch-Site", "same-site"}, true},
		{"typed or bookmarked", []string{"Sec-Fetch-Site", "none"}, true},
		{"old browser, foreign origin", []string{"Origin", "https://evil.example"}, true},
		{"old browser, null origin", []string{"Origin", "null"}, true},
		{"same-origin (our own button)", []string{"Sec-Fetch-Site", "same-origin", "Origin", "null"}, false},
		{"old browser, our origin", []string{"Origin", "https://psa.example.com"}, false},
	}
	idp := newMiniIdP(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			web := &recordingWeb{}
			h := browserServer(t, idp, web)
			rec := do(t, h, http.MethodPost, "/auth/signout", nil, tc.headers...)
			if tc.refused {
				assert.Equal(t, http.StatusForbidden, rec.Code)
				code, _ := errorOf(t, rec)
				assert.Equal(t, "FORBIDDEN", code)
				assert.Zero(t, web.signOuts, "the session is not ended")
				assert.Empty(t, rec.Result().Cookies(), "the cookie is not cleared")
				return
			}
			assert.Equal(t, http.StatusSeeOther, rec.Code)
			assert.Equal(t, 1, web.signOuts)
		})
	}
}

func TestInternalErrorsGetTheGenericText(t *testing.T) {
	causes := []error{
		errors.New(`pq: relation "refresh_tokens" does not exist: SELECT hash FROM refresh_tokens password=hunter2`),
		mobileauth.WrapError(mobileauth.CodeInternal, "store says SELECT hunter2", errors.New("boom")),
	}
	for _, cause := range causes {
		o := testOptions()
		o.Tokens = fakeTokens{err: cause}
		h := newTestServer(t, o).Handler()
		for _, path := range []string{"/api/v1/mobile/auth/exchange", "/api/v1/mobile/auth/refresh", "/api/v1/mobile/auth/revoke"} {
			rec := do(t, h, http.MethodPost, path, strings.NewReader(`{"ott":"o","state":"s","refreshToken":"r"}`), "Content-Type", "application/json")
			assert.Equal(t, http.StatusInternalServerError, rec.Code, path)
			code, msg := errorOf(t, rec)
			assert.Equal(t, "INTERNAL_ERROR", code, path)
			assert.Equal(t, "An internal error occurred", msg, path)
			assert.NotContains(t, rec.Body.String(), "hunter2", path)
			assert.NotContains(t, rec.Body.String(), "SELECT", path)
		}
	}
}
