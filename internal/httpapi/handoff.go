package httpapi

import (
	"net/http"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
)

// handoff is SPEC §3.3: the use case decides, this handler reads the
// request and writes the 302. Every answer must not be cached.
func (s *Server) handoff(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	q := r.URL.Query()
	res, err := s.web.Service.Handoff(r.Context(), s.handoffRequest(r, q.Get("redirect"), q.Get("state"),
		s.web.Origin+r.URL.RequestURI()))
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	http.Redirect(w, r, res.Location, http.StatusFound)
}

// handoffRequest reads what the hand-off use case needs from r; returnURL
// is where the browser comes back to after signing in.
func (s *Server) handoffRequest(r *http.Request, redirect, state, returnURL string) authflow.HandoffRequest {
	q := r.URL.Query()
	return authflow.HandoffRequest{Redirect: redirect, State: state,
		CodeChallenge: q.Get("code_challenge"), CodeChallengeMethod: q.Get("code_challenge_method"),
		Cookies: cookieMap(r), ReturnURL: returnURL, RequestHost: s.web.RequestHost(r), ClientIP: s.clientIP(r)}
}
