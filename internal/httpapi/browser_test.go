package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// These tests hold, at the HTTP layer, what only the slow end-to-end
// package checked before: the callback's state check, HttpOnly cookies,
// the cross-site sign-out refusal and the generic 500 text.

// recordingWeb is fakeWeb whose sign-in starts at a provider, finishes
// with the answer in finish (a session by default), and records calls.
type recordingWeb struct {
	fakeWeb
	mu        sync.Mutex
	callbacks []authflow.SignInCallback
	finish    *authflow.SignInFinish
	signOuts  int
}

func (w *recordingWeb) StartSignIn(_ context.Context, provider, callbackURL string) authflow.SignInStart {
	if provider != "google" {
		return authflow.SignInStart{Refusal: authflow.SignInUnknownProvider}
	}
	return authflow.SignInStart{Location: "https://idp.example/authorize?state=st-1", FlowCookie: "sealed-flow", Callback: callbackURL}
}

func (w *recordingWeb) FinishSignIn(_ context.Context, cb authflow.SignInCallback) (authflow.SignInFinish, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.callbacks = append(w.callbacks, cb)
	if w.finish != nil {
		return *w.finish, nil
	}
	return authflow.SignInFinish{Outcome: authflow.SignInDone, SessionID: "session-1", Location: "/auth/mobile/handoff"}, nil
}

func (w *recordingWeb) SignOut(context.Context, string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.signOuts++
	return nil
}

// browserServer is the test server with web as the sign-in use cases.
func browserServer(t *testing.T, web WebService) http.Handler {
	t.Helper()
	o := testOptions()
	o.Web.Service = web
	return newTestServer(t, o).Handler()
}

// startSignIn opens /auth/signin/google and returns the flow cookie.
func startSignIn(t *testing.T, h http.Handler) *http.Cookie {
	t.Helper()
	rec := do(t, h, http.MethodGet, "/auth/signin/google?callbackUrl=/auth/mobile/handoff", nil)
	require.Equal(t, http.StatusFound, rec.Code, rec.Body.String())
	assert.Equal(t, "https://idp.example/authorize?state=st-1", rec.Header().Get("Location"))
	cookies := rec.Result().Cookies()
	require.Len(t, cookies, 1)
	assert.Equal(t, "sealed-flow", cookies[0].Value)
	return cookies[0]
}

// callbackWith calls the Google callback with query q and the cookies.
func callbackWith(t *testing.T, h http.Handler, q url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, authflow.CallbackPathPrefix+"google?"+q.Encode(), nil)
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

// TestSignInCallbackPassesTheAnswerOn: the callback hands the flow
// cookie and the provider's answer to the use case (whose state checks
// are authflow's TestFinishSignInChecksState) and maps its outcome; a
// refusal sets no session cookie.
func TestSignInCallbackPassesTheAnswerOn(t *testing.T) {
	web := &recordingWeb{}
	h := browserServer(t, web)
	flow := startSignIn(t, h)

	cases := []struct {
		name   string
		finish authflow.SignInFinish
		status int
		to     string
	}{
		{"back to the sign-in page", authflow.SignInFinish{Outcome: authflow.SignInBack, Refusal: authflow.SignInFlowExpired, Callback: "/auth/mobile/handoff"},
			http.StatusFound, "/auth/signin?callbackUrl=%2Fauth%2Fmobile%2Fhandoff&error=flow_expired"},
		{"no such provider", authflow.SignInFinish{Outcome: authflow.SignInNotFound}, http.StatusNotFound, ""},
		// A refusal ends on a page of its own (reloading it must not re-send
		// the used code): see TestRefusedSignInHasAPageOfItsOwn.
		{"unknown user", authflow.SignInFinish{Outcome: authflow.SignInRefused, Err: authflow.ErrUnknownUser, Email: "x@example.com"}, http.StatusSeeOther, "/auth/signin?error=no_account"},
		{"ambiguous user", authflow.SignInFinish{Outcome: authflow.SignInRefused, Err: authflow.ErrAmbiguousUser, Email: "x@example.com"}, http.StatusSeeOther, "/auth/signin?error=ambiguous_account"},
		{"untrusted Microsoft tenant", authflow.SignInFinish{Outcome: authflow.SignInRefused, Err: authflow.ErrUntrustedTenant}, http.StatusSeeOther, "/auth/signin?error=untrusted_tenant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			web.finish = &tc.finish
			rec := callbackWith(t, h, url.Values{"state": {"st-1"}, "code": {"c"}, "error": {"e"}}, flow)
			assert.Equal(t, tc.status, rec.Code)
			if tc.to != "" {
				assert.Equal(t, tc.to, rec.Header().Get("Location"))
			}
			for _, c := range rec.Result().Cookies() {
				assert.NotContains(t, c.Name, sessionCookie, "no session after a refused callback")
			}
		})
	}
	web.finish = nil
	require.NotEmpty(t, web.callbacks)
	assert.Equal(t, authflow.SignInCallback{Provider: "google", FlowCookie: "sealed-flow", State: "st-1", Code: "c", Error: "e",
		ClientIP: "192.0.2.1:1234"}, web.callbacks[0], "the answer reaches the use case as it came")

	rec := callbackWith(t, h, url.Values{"state": {"st-1"}, "code": {"c"}}, flow)
	require.Equal(t, http.StatusFound, rec.Code, rec.Body.String())
	assert.Equal(t, "/auth/mobile/handoff", rec.Header().Get("Location"))
}

func TestBrowserCookiesAreHttpOnly(t *testing.T) {
	h := browserServer(t, &recordingWeb{})
	flow := startSignIn(t, h)
	assertBrowserOnlyCookie(t, flow)

	rec := callbackWith(t, h, url.Values{"state": {"st-1"}, "code": {"c"}}, flow)
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
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			web := &recordingWeb{}
			h := browserServer(t, web)
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

func TestRefusedSignInHasAPageOfItsOwn(t *testing.T) {
	web := &recordingWeb{}
	h := browserServer(t, web)
	flow := startSignIn(t, h)
	web.finish = &authflow.SignInFinish{Outcome: authflow.SignInRefused, Err: authflow.ErrUnknownUser, Email: "stranger@example.com"}
	rec := callbackWith(t, h, url.Values{"state": {"st-1"}, "code": {"c"}}, flow)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	var refused *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if strings.Contains(c.Name, refusedCookie) {
			refused = c
		}
	}
	require.NotNil(t, refused, "the e-mail travels in a cookie, not in the URL")
	assertBrowserOnlyCookie(t, refused)
	assert.NotContains(t, rec.Header().Get("Location"), "stranger")

	loc, calls := rec.Header().Get("Location"), len(web.callbacks)
	for range 2 { // a reload shows the same page and calls nothing
		page := do(t, h, http.MethodGet, loc, nil, "Cookie", refused.Name+"="+refused.Value)
		assert.Equal(t, http.StatusForbidden, page.Code)
		assert.Contains(t, page.Body.String(), "There is no active AlgaPSA account for stranger@example.com.")
		assert.Equal(t, calls, len(web.callbacks))
	}
	rec = do(t, h, http.MethodGet, "/auth/signin?error=no_account", nil)
	assert.Equal(t, http.StatusForbidden, rec.Code)
	assert.Contains(t, rec.Body.String(), "There is no active AlgaPSA account for the e-mail address you signed in with.")
	rec = do(t, h, http.MethodGet, "/auth/signin?error=no_account", nil, "Cookie", "__Host-"+refusedCookie+"=%3Cb%3Ex")
	assert.Contains(t, rec.Body.String(), "for the e-mail address you signed in with.", "a cookie that is not an e-mail address is not shown")
}
