package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// healthz: the process is alive; no dependencies are consulted.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz: the store is reachable and we are not draining.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining() {
		writeError(w, r, s.log, mobileauth.Errorf(mobileauth.CodeServiceUnavailable, "Shutting down"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		var named *mobileauth.Error
		if !errors.As(err, &named) {
			err = mobileauth.WrapError(mobileauth.CodeServiceUnavailable, "Store is not reachable", err)
		}
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// capabilities answers SPEC §3.1. It is public and cheap; the app calls it
// before saving a host.
func (s *Server) capabilities(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.caps.Capabilities())
}

// apple: native Apple sign-in exists only on Alga Cloud (SPEC §3.9).
func (s *Server) apple(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, s.log, mobileauth.Errorf(mobileauth.CodeNotImplemented,
		"Sign in with Apple is only available on Alga Cloud; sign in with Google or Microsoft on this server"))
}
