package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// Defaults of Options.InFlight and Options.AdmitWait.
const (
	// DefaultInFlight is twice the store's default PostgreSQL pool (16):
	// enough to keep every connection busy, few enough that an admitted
	// request rarely waits for one.
	DefaultInFlight = 32
	// DefaultAdmitWait is how long a token request waits for one of the
	// in-flight places before it is answered 503 with Retry-After: long
	// enough that a burst a healthy process works through in a few seconds
	// is served whole (hundreds of racers for one token included), short
	// enough that, with DefaultPoolWait, an answer comes well within a
	// phone's request timeout on a machine too starved to serve it.
	DefaultAdmitWait = 5 * time.Second
)

// admit lets at most Options.InFlight token requests (exchange, refresh,
// revoke) work at once in this process. Past that, a request waits up to
// Options.AdmitWait for a place, then is answered 503 SERVICE_UNAVAILABLE
// with Retry-After before it has touched the store, Redis or a token:
// nothing to undo, and little CPU spent on it. Without this bound a burst
// larger than the machine can serve queues in the store's pool for as
// long as each client waits, and on a starved machine the last ones get
// no answer at all (issue #12's replicas scenario).
func (s *Server) admit(h http.Handler) http.Handler {
	if s.opts.InFlight < 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.inFlight <- struct{}{}:
		default:
			t := time.NewTimer(s.opts.AdmitWait)
			defer t.Stop()
			select {
			case s.inFlight <- struct{}{}:
			case <-t.C:
				s.shed(w)
				return
			case <-r.Context().Done():
				writeError(w, r, s.log, r.Context().Err())
				return
			}
		}
		defer func() { <-s.inFlight }()
		h.ServeHTTP(w, r)
	})
}

// shed answers a request the process had no place for. It is counted
// (auth event "shed") and in the access log as a 503, not logged as a
// failure each time: in a burst there are many, and they are the design.
func (s *Server) shed(w http.ResponseWriter) {
	if s.metrics != nil {
		s.metrics.AuthEvent("shed", "busy")
	}
	w.Header().Set("Retry-After", strconv.Itoa(unavailableRetryAfter))
	writeJSON(w, http.StatusServiceUnavailable, errorBody{errorPayload{Code: mobileauth.CodeServiceUnavailable,
		Message: "Service temporarily unavailable, please retry"}})
}
