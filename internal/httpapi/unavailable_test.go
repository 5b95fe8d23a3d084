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

	"github.com/stretchr/testify/assert"

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
