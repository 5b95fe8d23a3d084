package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nineminds/alga-mobile-auth/internal/allowlist"
	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// handoff is SPEC §3.3, steps 1–3 here (parameters, redirect, session),
// 4–7 in the use case. Every answer is a 302 that must not be cached.
func (s *Server) handoff(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	q := r.URL.Query()
	rawRedirect, state := q.Get("redirect"), q.Get("state")
	if rawRedirect == "" || state == "" {
		http.Redirect(w, r, "/auth/signin", http.StatusFound)
		return
	}
	redirect, ok := allowlist.MobileRedirect(rawRedirect)
	// The state is echoed to the app and stored with the OTT: bound its size
	// and refuse control characters (PostgreSQL rejects NUL in text).
	if !ok || len(state) > 512 || strings.ContainsFunc(state, unicode.IsControl) || !utf8.ValidString(state) {
		http.Redirect(w, r, "/auth/signin?error=invalid_redirect", http.StatusFound)
		return
	}
	sess, user, err := s.web.Service.SessionUser(r.Context(), s.sessionCookie(r))
	if errors.Is(err, authflow.ErrNoSession) {
		here := s.web.Origin + r.URL.RequestURI()
		http.Redirect(w, r, "/auth/signin?"+url.Values{"callbackUrl": {here}}.Encode(), http.StatusFound)
		return
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	challenge := q.Get("code_challenge")
	if challenge != "" || q.Get("code_challenge_method") != "" {
		if q.Get("code_challenge_method") != "S256" || !token.ValidChallenge(challenge) {
			http.Redirect(w, r, allowlist.WithParams(redirect, url.Values{"error": {"invalid_request"}, "state": {state}}), http.StatusFound)
			return
		}
	}
	res, err := s.web.Service.Handoff(r.Context(), authflow.HandoffRequest{Session: sess, User: user, Redirect: redirect,
		State: state, CodeChallenge: challenge, RequestHost: s.web.RequestHost(r), ClientIP: s.clientIP(r)})
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	http.Redirect(w, r, res.Location, http.StatusFound)
}
