package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/logging"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// sqlStateError is how a PostgreSQL driver reports a server-side error.
type sqlStateError string

func (e sqlStateError) Error() string {
	return "FATAL: terminating connection (SQLSTATE " + string(e) + ")"
}
func (e sqlStateError) SQLState() string { return string(e) }

// A database or Redis outage is a retryable 503 with Retry-After, never a
// 500: the app retries, and the operator's alerts tell the two apart.
func TestUnreachableDependencyIs503WithRetryAfter(t *testing.T) {
	causes := map[string]error{
		"connection refused":   fmt.Errorf("rotate refresh token: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}),
		"server shutting down": fmt.Errorf("look up refresh token: %w", sqlStateError("57P01")),
		"limiter down": mobileauth.WrapError(mobileauth.CodeServiceUnavailable, "Service temporarily unavailable, please retry",
			&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}),
	}
	for name, cause := range causes {
		t.Run(name, func(t *testing.T) {
			o := testOptions()
			o.Tokens = fakeTokens{err: cause}
			h := newTestServer(t, o).Handler()
			for _, path := range []string{"/api/v1/mobile/auth/exchange", "/api/v1/mobile/auth/refresh", "/api/v1/mobile/auth/revoke"} {
				rec := do(t, h, http.MethodPost, path, strings.NewReader(`{"ott":"o","state":"s","refreshToken":"r"}`), "Content-Type", "application/json")
				assert.Equal(t, http.StatusServiceUnavailable, rec.Code, path)
				code, msg := errorOf(t, rec)
				assert.Equal(t, "SERVICE_UNAVAILABLE", code, path)
				assert.Equal(t, "Service temporarily unavailable, please retry", msg, path)
				assert.Equal(t, "1", rec.Header().Get("Retry-After"), path)
				assert.NotContains(t, rec.Body.String(), "SQLSTATE", path)
			}
		})
	}
}

// A request whose client has gone is no server error: nobody sees the
// answer, and a 500 in the log would page an operator for nothing.
func TestAbandonedRequestIsNotLoggedAsA500(t *testing.T) {
	var logs bytes.Buffer
	o := testOptions()
	o.Logger = logging.New(&logs, "json", "info")
	o.Tokens = fakeTokens{err: fmt.Errorf("rate limit hit: failed to connect: %w", context.Canceled)}
	h := newTestServer(t, o).Handler()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/v1/mobile/auth/refresh", strings.NewReader(`{"refreshToken":"r"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, statusClientClosed, rec.Code)
	assert.NotContains(t, logs.String(), `"status":500`)
	assert.NotContains(t, logs.String(), `"level":"ERROR"`)
}

// poolWaitTokens records the PoolWait its requests carry and fails as a
// store whose pool stayed busy does.
type poolWaitTokens struct {
	fakeTokens
	seen *[]time.Duration
}

func (p poolWaitTokens) Refresh(ctx context.Context, _ authflow.RefreshRequest) (authflow.RefreshResult, error) {
	d, _ := mobileauth.PoolWait(ctx)
	*p.seen = append(*p.seen, d)
	return authflow.RefreshResult{}, fmt.Errorf("rotate refresh token: %w", fmt.Errorf("%w: every database connection stayed busy", mobileauth.ErrUnavailable))
}

// Every request's store work has a bounded wait for a connection
// (DefaultPoolWait unless configured, none when negative), and a pool
// that stayed busy is a 503 with Retry-After, not a 500 or a hang.
func TestRequestsHaveABoundedPoolWait(t *testing.T) {
	for _, c := range []struct {
		set, want time.Duration
	}{{0, DefaultPoolWait}, {300 * time.Millisecond, 300 * time.Millisecond}, {-1, 0}} {
		var seen []time.Duration
		o := testOptions()
		o.PoolWait = c.set
		o.Tokens = poolWaitTokens{seen: &seen}
		h := newTestServer(t, o).Handler()
		rec := do(t, h, http.MethodPost, "/api/v1/mobile/auth/refresh", strings.NewReader(`{"refreshToken":"r"}`), "Content-Type", "application/json")
		assert.Equal(t, []time.Duration{c.want}, seen, "PoolWait %s", c.set)
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		code, _ := errorOf(t, rec)
		assert.Equal(t, "SERVICE_UNAVAILABLE", code)
		assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	}
}

// blockingTokens holds every refresh until release is closed.
type blockingTokens struct {
	fakeTokens
	entered chan struct{}
	release chan struct{}
}

func (b blockingTokens) Refresh(context.Context, authflow.RefreshRequest) (authflow.RefreshResult, error) {
	b.entered <- struct{}{}
	<-b.release
	return authflow.RefreshResult{AccessToken: "a", RefreshToken: "r"}, nil
}

// Past InFlight token requests at once, a request waits AdmitWait for a
// place and is then answered 503 with Retry-After, without reaching the
// use case; once a place is free, requests are served again.
func TestTokenRequestsBeyondInFlightAreShed(t *testing.T) {
	o := testOptions()
	o.InFlight, o.AdmitWait = 1, 100*time.Millisecond
	bt := blockingTokens{entered: make(chan struct{}, 2), release: make(chan struct{})}
	o.Tokens = bt
	h := newTestServer(t, o).Handler()
	refresh := func() *httptest.ResponseRecorder {
		return do(t, h, http.MethodPost, "/api/v1/mobile/auth/refresh", strings.NewReader(`{"refreshToken":"r"}`), "Content-Type", "application/json")
	}
	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- refresh() }()
	<-bt.entered

	start := time.Now()
	rec := refresh()
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	code, msg := errorOf(t, rec)
	assert.Equal(t, "SERVICE_UNAVAILABLE", code)
	assert.Equal(t, "Service temporarily unavailable, please retry", msg)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	assert.Empty(t, bt.entered, "a shed request never reaches the use case")
	rec = do(t, h, http.MethodGet, "/api/v1/mobile/auth/capabilities", nil)
	assert.Equal(t, http.StatusOK, rec.Code, "capabilities is not capped")

	close(bt.release)
	assert.Equal(t, http.StatusOK, (<-first).Code)
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- refresh() }()
	<-bt.entered
	assert.Equal(t, http.StatusOK, (<-done).Code, "the place was given back")
}
