package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/nineminds/alga-mobile-auth/internal/logging"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// CorrelationHeader carries the request's correlation id in and out.
const CorrelationHeader = "x-correlation-id"

// correlate reuses a sane incoming x-correlation-id or makes one, puts it
// on the response and into the context every logger reads.
func correlate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(CorrelationHeader)
		if !logging.SaneCorrelationID(id) {
			id = logging.NewCorrelationID()
		}
		w.Header().Set(CorrelationHeader, id)
		next.ServeHTTP(w, r.WithContext(logging.WithCorrelationID(r.Context(), id)))
	})
}

// recoverer turns a panic into a contract-shaped 500; the stack goes to
// the log only.
func recoverer(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.ErrorContext(r.Context(), "panic serving request", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
					writeError(w, r, log, fmt.Errorf("panic: %v", v))
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// limitBody refuses bodies over MaxBodyBytes: at once when Content-Length
// says so, otherwise when the decoder reads past the limit.
func limitBody(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > MaxBodyBytes {
				writeError(w, r, log, &mobileauth.Error{Code: mobileauth.CodePayloadTooLarge,
					Message: "Request body must be at most " + strconv.Itoa(MaxBodyBytes) + " bytes"})
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
			next.ServeHTTP(w, r)
		})
	}
}

// boundPoolWait gives the request's store operations a bounded wait for a
// database connection (Options.PoolWait): a burst the pool cannot serve in
// time gets 503s with Retry-After instead of answers that come too late.
func (s *Server) boundPoolWait(next http.Handler) http.Handler {
	if s.opts.PoolWait < 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(mobileauth.WithPoolWait(r.Context(), s.opts.PoolWait)))
	})
}

// statusRecorder remembers the status for metrics and the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// observe records metrics and writes one access-log line per request.
// The query string is never logged: it can carry OTTs and states.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		d := s.now().Sub(start)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		status := strconv.Itoa(rec.status)
		if s.metrics != nil {
			s.metrics.ObserveRequest(route, methodLabel(r.Method), status, d)
		}
		lvl := slog.LevelInfo
		if route == "/healthz" || route == "/readyz" || route == "/metrics" {
			lvl = slog.LevelDebug
		}
		s.log.Log(r.Context(), lvl, "request",
			"method", r.Method, "path", r.URL.Path, "route", route, "status", rec.status,
			"bytes", rec.bytes, "duration_ms", float64(d.Microseconds())/1000, "client_ip", s.clientIP(r))
	})
}

func (s *Server) now() time.Time { return s.clock() }

// methodLabel bounds the method label: a client may send any token as a
// method, and each distinct label would be a new time series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}
