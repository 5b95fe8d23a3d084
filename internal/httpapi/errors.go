package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// statusOf is the single mapping from contract codes to HTTP statuses.
var statusOf = map[mobileauth.Code]int{
	mobileauth.CodeValidation:         http.StatusBadRequest,
	mobileauth.CodeUnauthorized:       http.StatusUnauthorized,
	mobileauth.CodeForbidden:          http.StatusForbidden,
	mobileauth.CodeNotFound:           http.StatusNotFound,
	mobileauth.CodeMethodNotAllowed:   http.StatusMethodNotAllowed,
	mobileauth.CodePayloadTooLarge:    http.StatusRequestEntityTooLarge,
	mobileauth.CodeRateLimited:        http.StatusTooManyRequests,
	mobileauth.CodeInternal:           http.StatusInternalServerError,
	mobileauth.CodeNotImplemented:     http.StatusNotImplemented,
	mobileauth.CodeServiceUnavailable: http.StatusServiceUnavailable,
}

// errorBody is the AlgaPSA error shape the app parses.
type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code    mobileauth.Code `json:"code"`
	Message string          `json:"message"`
	Details any             `json:"details,omitempty"`
}

// RateLimitDetails is the details object of a RATE_LIMITED error.
type RateLimitDetails struct {
	MsBeforeNext int64 `json:"msBeforeNext"`
}

// statusClientClosed is nginx's 499: the client closed the request.
const statusClientClosed = 499

// unavailableRetryAfter is the Retry-After (seconds) of a 503.
const unavailableRetryAfter = 1

// writeError is the one place where an error becomes a response. Errors
// without a contract code are internal: the client sees a generic sentence
// and the cause goes to the log with the correlation id.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
		// The client went away (or its deadline passed) mid-request: nobody
		// reads this answer, and it is not a server fault to alert on.
		log.InfoContext(r.Context(), "request abandoned by the client", "status", statusClientClosed, "error", err)
		w.WriteHeader(statusClientClosed)
		return
	}
	var rl *authflow.RateLimitedError
	if errors.As(err, &rl) {
		err = RateLimited(rl.RetryAfter)
	}
	var e *mobileauth.Error
	if !errors.As(err, &e) {
		e = &mobileauth.Error{Code: mobileauth.CodeInternal, Cause: err}
		if mobileauth.Unavailable(err) {
			e = mobileauth.WrapError(mobileauth.CodeServiceUnavailable, "Service temporarily unavailable, please retry", err)
		}
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	msg := e.Message
	if status >= 500 {
		if e.Code == mobileauth.CodeInternal || msg == "" {
			msg = "An internal error occurred"
		}
		lvl := slog.LevelError
		switch e.Code {
		case mobileauth.CodeServiceUnavailable:
			lvl = slog.LevelWarn
		case mobileauth.CodeNotImplemented:
			lvl = slog.LevelInfo
		}
		log.Log(r.Context(), lvl, "request failed", "code", e.Code, "status", status, "error", err)
	} else if e.Cause != nil {
		log.InfoContext(r.Context(), "request refused", "code", e.Code, "status", status, "cause", e.Cause)
	}
	if e.Code == mobileauth.CodeServiceUnavailable {
		// A dependency is down or the server is draining: worth a retry soon.
		w.Header().Set("Retry-After", strconv.Itoa(unavailableRetryAfter))
	}
	if d, ok := e.Details.(RateLimitDetails); ok {
		secs := (d.MsBeforeNext + 999) / 1000
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	writeJSON(w, status, errorBody{errorPayload{Code: e.Code, Message: msg, Details: e.Details}})
}

// RateLimited builds the RATE_LIMITED error with Retry-After details.
func RateLimited(retryAfter time.Duration) *mobileauth.Error {
	return &mobileauth.Error{
		Code:    mobileauth.CodeRateLimited,
		Message: "Too many requests, please try again later",
		Details: RateLimitDetails{MsBeforeNext: retryAfter.Milliseconds()},
	}
}

// writeJSON writes v with status; responses are never cached because they
// may carry tokens.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"INTERNAL_ERROR","message":"An internal error occurred"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
