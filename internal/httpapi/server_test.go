package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/logging"
	"github.com/nineminds/alga-mobile-auth/internal/metrics"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

type fixedCaps authflow.Capabilities

func (c fixedCaps) Capabilities() authflow.Capabilities { return authflow.Capabilities(c) }

// fakeTokens and fakeWeb stand in for the use cases, which have their own
// tests; here only the HTTP mapping is under test.
type fakeTokens struct{ err error }

func (f fakeTokens) Exchange(context.Context, authflow.ExchangeRequest) (authflow.ExchangeResult, error) {
	return authflow.ExchangeResult{}, f.err
}
func (f fakeTokens) Refresh(context.Context, authflow.RefreshRequest) (authflow.RefreshResult, error) {
	return authflow.RefreshResult{}, f.err
}
func (f fakeTokens) Revoke(context.Context, authflow.RevokeRequest) error { return f.err }
func (f fakeTokens) Verify(context.Context, string) (authflow.Principal, error) {
	return authflow.Principal{}, f.err
}

type fakeWeb struct{}

func (fakeWeb) SignInPage(context.Context, map[string]string, string) authflow.SignInPage {
	return authflow.SignInPage{Providers: []authflow.ProviderChoice{{ID: "google", Name: "Google"}}}
}
func (fakeWeb) StartSignIn(context.Context, string, string) authflow.SignInStart {
	return authflow.SignInStart{Refusal: authflow.SignInProviderUnavailable}
}
func (fakeWeb) FinishSignIn(context.Context, authflow.SignInCallback) (authflow.SignInFinish, error) {
	return authflow.SignInFinish{Outcome: authflow.SignInNotFound}, nil
}
func (fakeWeb) SignOut(context.Context, string) error { return nil }
func (fakeWeb) Handoff(context.Context, authflow.HandoffRequest) (authflow.HandoffResult, error) {
	return authflow.HandoffResult{}, errors.New("not used")
}

func testOptions() Options {
	return Options{
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics:       metrics.New("test"),
		Capabilities:  fixedCaps{Enabled: true, Providers: map[string]bool{"google": true, "microsoft": false}, AccessTTLSec: 900, RefreshTTLSec: 2592000, OTTTTLSec: 60},
		Ready:         func(context.Context) error { return nil },
		MetricsOnMain: true,
		Tokens:        fakeTokens{err: mobileauth.Errorf(mobileauth.CodeUnauthorized, "Invalid or expired token")},
		JWKS:          func() []byte { return []byte(`{"keys":[]}`) },
		Web: &WebOptions{Service: fakeWeb{}, Origin: "https://psa.example.com",
			RequestHost: func(r *http.Request) string { return r.Host }},
		SessionTTL: time.Hour,
		Demo:       true,
		Connect:    &ConnectAssets{Origin: "https://psa.example.com", PNG: []byte("png"), SVG: []byte("<svg/>")},
	}
}

func newTestServer(t *testing.T, o Options) *Server {
	t.Helper()
	s, err := New(o)
	require.NoError(t, err)
	return s
}

func do(t *testing.T, h http.Handler, method, path string, body io.Reader, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// errorOf decodes the contract error shape and fails if the body is not it.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder) (code, message string) {
	t.Helper()
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), "body %q", rec.Body.String())
	require.NotEmpty(t, body.Error.Message)
	return body.Error.Code, body.Error.Message
}

func TestCapabilitiesShape(t *testing.T) {
	h := newTestServer(t, testOptions()).Handler()
	rec := do(t, h, http.MethodGet, "/api/v1/mobile/auth/capabilities", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.JSONEq(t, `{"enabled":true,"providers":{"google":true,"microsoft":false},"accessTtlSec":900,"refreshTtlSec":2592000,"ottTtlSec":60}`, rec.Body.String())
}

func TestErrorsUnderAPIHaveContractShape(t *testing.T) {
	h := newTestServer(t, testOptions()).Handler()
	tests := []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"unknown api path is NOT_FOUND", http.MethodGet, "/api/v1/mobile/nope", 404, "NOT_FOUND"},
		{"wrong method is 405", http.MethodDelete, "/api/v1/mobile/auth/capabilities", 405, "METHOD_NOT_ALLOWED"},
		{"apple is NOT_IMPLEMENTED", http.MethodPost, "/api/v1/mobile/auth/apple", 501, "NOT_IMPLEMENTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, h, tt.method, tt.path, nil)
			assert.Equal(t, tt.status, rec.Code)
			code, _ := errorOf(t, rec)
			assert.Equal(t, tt.code, code)
		})
	}
}

func TestCorrelationID(t *testing.T) {
	h := newTestServer(t, testOptions()).Handler()
	t.Run("sane incoming id is echoed", func(t *testing.T) {
		rec := do(t, h, http.MethodGet, "/healthz", nil, "x-correlation-id", "abc-123.x")
		assert.Equal(t, "abc-123.x", rec.Header().Get("x-correlation-id"))
	})
	for _, bad := range []string{"has space", strings.Repeat("a", 129), "semi;colon", "<script>"} {
		t.Run("replaces "+bad[:min(len(bad), 12)], func(t *testing.T) {
			rec := do(t, h, http.MethodGet, "/healthz", nil, "x-correlation-id", bad)
			got := rec.Header().Get("x-correlation-id")
			assert.NotEqual(t, bad, got)
			assert.True(t, logging.SaneCorrelationID(got))
		})
	}
	t.Run("generated when absent, also on 404", func(t *testing.T) {
		rec := do(t, h, http.MethodGet, "/api/x", nil)
		assert.Len(t, rec.Header().Get("x-correlation-id"), 32)
	})
}

func TestCorrelationIDInEveryLogLine(t *testing.T) {
	var buf bytes.Buffer
	o := testOptions()
	o.Logger = logging.New(&buf, "json", "debug")
	h := newTestServer(t, o).Handler()
	do(t, h, http.MethodPost, "/api/v1/mobile/auth/apple", nil, "x-correlation-id", "corr-42")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.NotEmpty(t, lines)
	for _, l := range lines {
		assert.Contains(t, l, `"correlation_id":"corr-42"`)
	}
}

func TestPanicBecomesContract500(t *testing.T) {
	var buf bytes.Buffer
	o := testOptions()
	o.Logger = logging.New(&buf, "json", "info")
	o.Ready = func(context.Context) error { panic("boom secret-value") }
	h := newTestServer(t, o).Handler()
	rec := do(t, h, http.MethodGet, "/readyz", nil)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	code, msg := errorOf(t, rec)
	assert.Equal(t, "INTERNAL_ERROR", code)
	assert.NotContains(t, rec.Body.String(), "boom")
	assert.NotContains(t, rec.Body.String(), "goroutine")
	assert.Equal(t, "An internal error occurred", msg)
	assert.Contains(t, buf.String(), "panic serving request")
}

func TestReadyz(t *testing.T) {
	draining := false
	var readyErr error
	o := testOptions()
	o.Ready = func(context.Context) error { return readyErr }
	o.Draining = func() bool { return draining }
	h := newTestServer(t, o).Handler()
	assert.Equal(t, 200, do(t, h, http.MethodGet, "/readyz", nil).Code)
	readyErr = errors.New("dial tcp 10.0.0.5:5432: password=hunter2 refused")
	rec := do(t, h, http.MethodGet, "/readyz", nil)
	assert.Equal(t, 503, rec.Code)
	assert.NotContains(t, rec.Body.String(), "hunter2")
	readyErr = nil
	draining = true
	assert.Equal(t, 503, do(t, h, http.MethodGet, "/readyz", nil).Code)
	assert.Equal(t, 200, do(t, h, http.MethodGet, "/healthz", nil).Code, "healthz stays up while draining")
}

func TestMetricsExposeRequestsByRoute(t *testing.T) {
	h := newTestServer(t, testOptions()).Handler()
	do(t, h, http.MethodGet, "/api/v1/mobile/auth/capabilities", nil)
	rec := do(t, h, http.MethodGet, "/metrics", nil)
	require.Equal(t, 200, rec.Code)
	body := rec.Body.String()
	assert.Contains(t, body, `alga_mobile_http_requests_total{method="GET",route="/api/v1/mobile/auth/capabilities",status="200"} 1`)
	assert.Contains(t, body, `alga_mobile_build_info{`)
}

func TestNewRefusesMissingDependencies(t *testing.T) {
	o := testOptions()
	o.Capabilities = nil
	_, err := New(o)
	assert.Error(t, err)
	o = testOptions()
	o.Logger = nil
	_, err = New(o)
	assert.Error(t, err)
}

// TestTokenEndpointsMapErrorsAndBodies: decoding refusals are the
// handler's; missing fields are the use case's (authflow's
// TestRequiredFieldsNameTheField, and the e2e golden bodies).
func TestTokenEndpointsMapErrorsAndBodies(t *testing.T) {
	h := newTestServer(t, testOptions()).Handler()
	tests := []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"malformed json", "/api/v1/mobile/auth/exchange", `{"ott":`, 400, "VALIDATION_ERROR"},
		{"wrong type", "/api/v1/mobile/auth/exchange", `{"ott":1,"state":"s"}`, 400, "VALIDATION_ERROR"},
		{"array body", "/api/v1/mobile/auth/refresh", `[]`, 400, "VALIDATION_ERROR"},
		{"trailing data", "/api/v1/mobile/auth/refresh", `{"refreshToken":"a"}{}`, 400, "VALIDATION_ERROR"},
		{"empty body", "/api/v1/mobile/auth/revoke", ``, 400, "VALIDATION_ERROR"},
		{"use case error passes through", "/api/v1/mobile/auth/exchange", `{"ott":"x","state":"s"}`, 401, "UNAUTHORIZED"},
		{"oversized body", "/api/v1/mobile/auth/refresh", `{"refreshToken":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, 413, "PAYLOAD_TOO_LARGE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, h, http.MethodPost, tt.path, strings.NewReader(tt.body), "Content-Type", "application/json")
			assert.Equal(t, tt.status, rec.Code, rec.Body.String())
			code, _ := errorOf(t, rec)
			assert.Equal(t, tt.code, code)
		})
	}
}

func TestRateLimitedCarriesRetryAfter(t *testing.T) {
	o := testOptions()
	o.Tokens = fakeTokens{err: &authflow.RateLimitedError{RetryAfter: 299500 * time.Millisecond}}
	h := newTestServer(t, o).Handler()
	rec := do(t, h, http.MethodPost, "/api/v1/mobile/auth/exchange", strings.NewReader(`{"ott":"x","state":"s"}`), "Content-Type", "application/json")
	assert.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "300", rec.Header().Get("Retry-After"))
	assert.JSONEq(t, `{"error":{"code":"RATE_LIMITED","message":"Too many requests, please try again later","details":{"msBeforeNext":299500}}}`, rec.Body.String())
}

func TestVerifyChallenges(t *testing.T) {
	o := testOptions()
	o.Tokens = fakeTokens{err: mobileauth.WrapError(mobileauth.CodeUnauthorized, "Authentication required", authflow.ErrNoToken)}
	rec := do(t, newTestServer(t, o).Handler(), http.MethodGet, "/api/v1/mobile/auth/verify", nil)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, `Bearer realm="alga-mobile"`, rec.Header().Get("WWW-Authenticate"))

	rec = do(t, newTestServer(t, testOptions()).Handler(), http.MethodGet, "/api/v1/mobile/auth/verify", nil, "Authorization", "Bearer abc")
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, `Bearer realm="alga-mobile", error="invalid_token"`, rec.Header().Get("WWW-Authenticate"))
}

func TestBearer(t *testing.T) {
	tests := []struct{ auth, key, want string }{
		{"Bearer abc", "", "abc"},
		{"bearer  abc ", "", "abc"},
		{"Basic abc", "", ""},
		{"", "k1", "k1"},
		{"Bearer t", "k1", "t"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		if tt.key != "" {
			req.Header.Set("x-api-key", tt.key)
		}
		assert.Equal(t, tt.want, bearer(req), "%q/%q", tt.auth, tt.key)
	}
}

func TestInventedMethodsShareOneMetricsLabel(t *testing.T) {
	h := newTestServer(t, testOptions()).Handler()
	for _, m := range []string{"XM1", "XM2", "BREW"} {
		do(t, h, m, "/nope", nil)
	}
	body := do(t, h, http.MethodGet, "/metrics", nil).Body.String()
	assert.NotContains(t, body, `method="XM1"`)
	assert.Contains(t, body, `alga_mobile_http_requests_total{method="other",route="unmatched",status="405"} 3`)
}

func TestHeadOnGetRoutes(t *testing.T) {
	h := newTestServer(t, testOptions()).Handler()
	for _, p := range []string{"/healthz", "/readyz", "/.well-known/jwks.json", "/auth/signin", "/mobile/connect"} {
		rec := do(t, h, http.MethodHead, p, nil)
		assert.Equal(t, http.StatusOK, rec.Code, p)
	}
}
